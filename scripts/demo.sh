#!/usr/bin/env bash
# The whole story, end to end on loopback, with every process started and stopped here:
#   - the registry authority signs the registry of a hospital, a prison probation service (SPIP),
#     a child-welfare service (ASE), the SIAO of Paris, two associations and an auditor;
#   - relaisd starts with its SQLite journal; two association inboxes and the SIAO's subscribe;
#   - the hospital's social worker opens a case and records consent; the hospital's ADT feed sends
#     an A16 (pending discharge) over MLLP; both associations receive the referral; one accepts,
#     the other is told the offer was taken; the A03 (discharge) hands the person over; the
#     association confirms the pickup;
#   - the SPIP imports its release list; nobody accepts in time (simulated clock); the SIAO is
#     alerted;
#   - the person withdraws consent; the inboxes purge their copy and confirm;
#   - the auditor verifies the journal and prints the report (and writes the HTML report).
# Installs dependencies and builds first. Every name, date and situation is fictitious.
#
#   bash scripts/demo.sh     RELAIS_DEMO_KEEP=1 keeps the files; RELAIS_DEMO_NO_BUILD=1 skips
#                            install and build; RELAIS_DEMO_WAIT=0|1 (default: 1 on a terminal)
#                            leaves the inbox page up until Ctrl-C.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${RELAIS_BUILD_DIR:-$root/build}

step() { printf '\n==> %s\n' "$*"; }
say() { printf '    %s\n' "$*"; }
die() {
  printf 'demo: FAILED: %s\n' "$*" >&2
  local f
  for f in "${work:-/nonexistent}"/*.log; do # the logs carry no personal data
    [ -f "$f" ] && printf -- '--- %s\n%s\n' "$f" "$(tail -n 5 "$f")" >&2
  done
  exit 1
}

if [ -z "${RELAIS_DEMO_NO_BUILD:-}" ]; then
  step "Installing dependencies (scripts/install-deps.sh) and building (scripts/build.sh)"
  "$root/scripts/install-deps.sh"
  "$root/scripts/build.sh"
fi
relais=$build/tools/relais
relaisd=$build/broker/relaisd
hospital=$build/adapters/hospital/relais-hospital
inbox=$build/adapters/inbox/relais-inbox
import=$build/adapters/importer/relais-import
for b in "$relais" "$relaisd" "$hospital" "$inbox" "$import"; do
  [ -x "$b" ] || die "$b missing: build first"
done

work=$(mktemp -d "${TMPDIR:-/tmp}/relais-demo.XXXXXX")
pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  if [ -n "${RELAIS_DEMO_KEEP:-}" ]; then
    echo "demo: files kept in $work"
  else
    rm -rf "$work"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
cd "$work"
keys=$work/keys
reg=$work/registry.bin
auth_pub=$keys/pacte-75.pub

# A free TCP port on 127.0.0.1: nothing answers on it.
free_port() {
  local p
  for _ in $(seq 1 50); do
    p=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      echo "$p"
      return
    fi
  done
  die "no free port found"
}
# wait_for WHAT SECONDS COMMAND...: runs COMMAND every 0.2 s until it succeeds.
wait_for() {
  local what=$1 tries=$(($2 * 5))
  shift 2
  for _ in $(seq 1 "$tries"); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.2
  done
  die "$what: nothing after $((tries / 5)) s"
}
in_log() { grep -q "$2" "$1"; }
start() {  # start NAME COMMAND...: in the background, output to NAME.log
  local name=$1
  shift
  "$@" >"$work/$name.log" 2>&1 &
  pids+=("$!")
}
# start_listener NAME READY CMD...: like start, for a program listening on a port chosen here:
# @PORT@ in its arguments becomes a free port ($listener_port). A port taken by another program
# between the choice and the bind makes the program exit early: it is started again on another.
start_listener() {
  local name=$1 ready=$2 a pid
  shift 2
  for _ in 1 2 3; do
    listener_port=$(free_port)
    local args=()
    for a in "$@"; do args+=("${a//@PORT@/$listener_port}"); done
    start "$name" "${args[@]}"
    pid=${pids[-1]}
    for _ in $(seq 1 100); do
      if in_log "$work/$name.log" "$ready"; then return 0; fi
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.2
    done
    if kill -0 "$pid" 2>/dev/null; then die "$name: nothing after 20 s"; fi
  done
  die "$name: exited on three different ports"
}

step "Keys for the registry authority, the broker and eight agencies (relais keygen)"
agencies=(aphp-bichat spip-75 ase-75 siao-75 asso-toit asso-passerelle dpo-audit)
for id in pacte-75 relais-idf "${agencies[@]}"; do
  "$relais" keygen --agency "$id" --out "$keys" >/dev/null
done
say "authority pacte-75, broker relais-idf, agencies: ${agencies[*]} (private keys 0600)"

step "The Pacte signs the registry: who exists, their keys, what they may send and receive"
"$relais" registry init --authority-key "$keys/pacte-75.key" --out "$reg" >/dev/null
add() { "$relais" registry add "$reg" --pub "$keys/$1.pub" --territory 75 "${@:2}" >/dev/null; }
add relais-idf --kind broker --name "Relais IDF (broker)"
add aphp-bichat --kind hospital --name "AP-HP Hopital Bichat, service social" --may-receive
add spip-75 --kind prison_service --name "SPIP de Paris" --may-receive
add ase-75 --kind child_welfare --name "ASE de Paris" --may-receive
add siao-75 --kind siao --name "SIAO de Paris (coordination)"
add asso-toit --kind association --name "Association Un Toit Paris 18"
add asso-passerelle --kind association --name "Passerelle Solidarite 75"
add dpo-audit --kind auditor --name "DPO, audit du journal"
"$relais" registry sign "$reg" --authority-key "$keys/pacte-75.key" >/dev/null
"$relais" registry verify "$reg" --authority-pub "$auth_pub" | sed 's/^/    /'

step "relaisd starts on loopback with its SQLite journal (on a simulated clock for the deadlines)"
now_ms=$(date +%s%3N)
# The simulated clock follows the real one plus an offset (days skipped ahead), rewritten every
# 0.2 s; relaisd reads it through --test-clock-file.
echo 0 >"$work/clock.offset"
tick() { echo $(($(date +%s%3N) + $(cat "$work/clock.offset"))) >"$work/clock.new" && mv "$work/clock.new" "$work/clock"; }
tick
(while true; do tick; sleep 0.2; done) &
pids+=("$!")
start_listener relaisd relaisd_ready "$relaisd" --listen "tcp://127.0.0.1:@PORT@" \
  --journal "$work/journal.db" --registry "$reg" --authority-pub "$auth_pub" \
  --key "$keys/relais-idf.key" --metrics-listen off --test-clock-file "$work/clock"
broker=tcp://127.0.0.1:$listener_port
say "relaisd serves $broker; journal $work/journal.db"
# Moves the broker's clock forward by $1 days.
advance_days() { echo $(($(cat "$work/clock.offset") + $1 * 86400000)) >"$work/clock.offset"; }
agency() { echo --key "$keys/$1.key" --registry "$reg" --authority-pub "$auth_pub" --broker "$broker"; }

step "The associations and the SIAO start their inboxes (encrypted local store, page on 127.0.0.1)"
declare -A web_port
for id in asso-toit asso-passerelle siao-75; do
  flags=(--store "$work/inbox-$id.db" --store-key-file "$work/inbox-$id.key" $(agency "$id"))
  "$inbox" init --create-key-file "${flags[@]}" >/dev/null
  printf 'mot-de-passe-demo\n' | "$inbox" staff add travailleur.social "${flags[@]}" >/dev/null
  start_listener "inbox-$id" inbox_subscribed "$inbox" run "${flags[@]}" --web-port @PORT@ \
    --no-desktop-notify --contact-name "Equipe $id"
  web_port[$id]=$listener_port
  say "$id: inbox running, page http://127.0.0.1:${web_port[$id]}/ (staff account travailleur.social)"
done
inbox_cmd() {  # inbox_cmd AGENCY COMMAND ARGS...
  local id=$1
  shift
  "$inbox" "$@" --store "$work/inbox-$id.db" --store-key-file "$work/inbox-$id.key" $(agency "$id")
}
inbox_shows() { inbox_cmd "$1" "${@:3}" 2>/dev/null | grep -q -- "$2"; } # AGENCY PATTERN CMD...

step "The hospital's ADT interface (relais-hospital) listens for HL7 v2 over MLLP"
start_listener hospital hospital_ready "$hospital" serve --listen "127.0.0.1:@PORT@" \
  --db "$work/hospital.db" --referrer-name "Mme Griffon, assistante sociale" \
  --referrer-phone "01 40 25 00 00" $(agency aphp-bichat)
mllp_port=$listener_port
say "MLLP on 127.0.0.1:$mllp_port; local store (cases, outbox) $work/hospital.db"

step "The social worker opens a case for patient IPP 880123 and records the person's consent"
case_ref=$("$hospital" case open --db "$work/hospital.db" --patient 880123 --actor as-bichat-07 |
  sed -n 's/^case=//p')
[ -n "$case_ref" ] || die "no case opened"
consent_out=$("$hospital" case consent --db "$work/hospital.db" --case "$case_ref" \
  --recipients asso-toit,asso-passerelle --purposes housing --method written \
  --key "$keys/aphp-bichat.key" --registry "$reg" --authority-pub "$auth_pub")
consent_id=$(sed -n 's/.*consent=\([^ ]*\).*/\1/p' <<<"$consent_out")
say "case $case_ref (random, no name in any clear header); consent $consent_id for asso-toit and"
say "asso-passerelle, purpose housing"

# Sends one HL7 message (LF-separated text) over MLLP; prints the MSA segment of the ACK.
send_hl7() {
  local ack
  exec 3<>"/dev/tcp/127.0.0.1/$mllp_port"
  printf '\x0b%s\x1c\x0d' "$(tr '\n' '\r' <<<"$1")" >&3
  IFS= read -r -d $'\x1c' ack <&3 || true
  exec 3>&-
  tr '\r' '\n' <<<"$ack" | grep '^MSA' || echo "no ACK"
}
hl7_time() { date -u -d "@$(($1 / 1000))" +%Y%m%d%H%M%S+0000; }
exit_ms=$((now_ms + 3 * 86400000))
adt() {  # adt TRIGGER CONTROL_ID EXTRA_SEGMENTS
  printf 'MSH|^~\\&|SIH_BICHAT|APHP_BICHAT|RELAIS|APHP_BICHAT|%s||ADT^%s^ADT_%s|%s|P|2.5|||||FRA|8859/15|FR\n' \
    "$(hl7_time "$now_ms")" "$1" "$1" "$2"
  printf 'EVN||%s\n' "$(hl7_time "$now_ms")"
  printf 'PID|||880123^^^APHP_BICHAT^PI||DUPONT^Jean^^^^^L||19700215|M\n'
  printf '%s\n' "$3"
}

step "The ADT feed announces the discharge (A16, expected in 3 days): a referral to both associations"
pv1="PV1||I|MED^2012^1^APHP_BICHAT||||||||||||||||V42^^^APHP_BICHAT^VN"
say "hospital ACK: $(send_hl7 "$(adt A16 MSG-0001 "$pv1
PV2|||||||||$(hl7_time "$exit_ms")")")"
for id in asso-toit asso-passerelle; do
  wait_for "referral in $id's inbox" 20 inbox_shows "$id" "$case_ref" list --json
  say "$id: the referral is in its inbox (identity and needs opened locally, stored encrypted)"
done

step "Un Toit accepts; Passerelle is told the offer was taken"
say "$(inbox_cmd asso-toit accept "$case_ref" --note "Place en CHRS disponible")"
wait_for "offer_taken at Passerelle" 20 inbox_shows asso-passerelle offer_taken show "$case_ref" --json
say "asso-passerelle: offer_taken received"

step "The patient leaves (A03): the hospital hands the person over to Un Toit, who confirms pickup"
hospital_knows_accepted() { "$hospital" case list --db "$work/hospital.db" | grep "$case_ref" | grep -q accepted; }
wait_for "acceptance seen by the hospital" 20 hospital_knows_accepted
say "hospital ACK: $(send_hl7 "$(adt A03 MSG-0002 "PV1||I|MED^2012^1^APHP_BICHAT||||||||||||||||V42^^^APHP_BICHAT^VN|||||||||||||||||01|||||||||$(hl7_time "$now_ms")")")"
wait_for "handed_over at Un Toit" 20 inbox_shows asso-toit handed_over show "$case_ref" --json
say "$(inbox_cmd asso-toit pickup "$case_ref" --place "CHRS Un Toit, Paris 18")"

step "The SPIP imports its release list; nobody accepts in time"
release_day=$(date -u -d "@$(((now_ms + 40 * 86400000) / 1000))" +%d/%m/%Y)
cat >"$work/liberations.csv" <<EOF
person_id;family_name;given_names;birth_date;establishment;release_date;release_type;needs;consent;consent_date;recipients;referrer_name;referrer_phone;notes
E-2001;Moreau;Karim;03/09/1985;CP Fresnes;$release_day;fin_de_peine;housing|health;oui;$(date -u +%d/%m/%Y);asso-toit|asso-passerelle;CPIP Lefort;01 00 00 00 00;
EOF
"$import" prison "$work/liberations.csv" --store "$work/spip.db" --progress never \
  $(agency spip-75) | sed 's/^/    /'
say "simulated clock: 11 days later, 29 days before the release (accept-by was release - 30 days)"
advance_days 11
wait_for "escalation at the SIAO" 20 inbox_shows siao-75 escalation list --json
say "siao-75: escalation received — a prison release with no partner yet (risque de rupture)"

step "The person withdraws consent; the inboxes purge their copy and confirm"
"$relais" consent withdraw --case "$case_ref" --consent-id "$consent_id" \
  $(agency aphp-bichat) | sed 's/^/    /'
purges_confirmed() { # both associations were asked to purge, and both confirmed
  [ "$("$relais" consent show --case "$case_ref" $(agency aphp-bichat) | grep -c 'confirmed 20')" -ge 2 ]
}
wait_for "purge receipts" 30 purges_confirmed
"$relais" consent show --case "$case_ref" $(agency aphp-bichat) | sed 's/^/    /'
say "asso-toit: $(inbox_cmd asso-toit purges | head -n 1)"

step "The auditor verifies the journal and writes the report (metadata only, no body opened)"
"$relais" audit verify "$work/journal.db" --registry "$reg" --authority-pub "$auth_pub" |
  tail -n 2 | sed 's/^/    /'
[ "${PIPESTATUS[0]}" -eq 0 ] || die "audit verify failed"
"$relais" audit report "$work/journal.db" | sed 's/^/    /'
"$relais" audit report "$work/journal.db" --format html --out "$work/rapport.html" >/dev/null
say "HTML report: $work/rapport.html (self-contained, opens without network)"

step "Demo OK"
if [ "${RELAIS_DEMO_WAIT:-$([ -t 0 ] && echo 1 || echo 0)}" = 1 ]; then
  say "Un Toit's inbox: http://127.0.0.1:${web_port[asso-toit]}/  (travailleur.social /"
  say "mot-de-passe-demo); the SIAO's: http://127.0.0.1:${web_port[siao-75]}/. Ctrl-C to stop."
  RELAIS_DEMO_KEEP=${RELAIS_DEMO_KEEP:-1}
  while true; do sleep 3600; done
fi
