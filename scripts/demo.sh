#!/usr/bin/env bash
# The main job, end to end on loopback: a hospital discharge referred, with the person's consent,
# to two associations through relaisd; one accepts, the other is told the offer was taken; an
# auditor verifies the journal. Installs dependencies and builds first. Every name, date and
# situation below is fictitious.
#
#   bash scripts/demo.sh            (RELAIS_DEMO_KEEP=1 keeps the temporary directory)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${RELAIS_BUILD_DIR:-$root/build}

step() { printf '\n==> %s\n' "$*"; }
say() { printf '    %s\n' "$*"; }
die() {
  printf 'demo: FAILED: %s\n' "$*" >&2
  exit 1
}

step "Installing dependencies (scripts/install-deps.sh) and building (scripts/build.sh)"
"$root/scripts/install-deps.sh"
"$root/scripts/build.sh"
relais=$build/tools/relais
relaisd=$build/broker/relaisd
if [ ! -x "$relais" ] || [ ! -x "$relaisd" ]; then
  die "relais or relaisd missing from $build"
fi

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

# The value of a string field in a JSON line (first occurrence; our values hold no quotes).
json_field() { grep -o "\"$1\":\"[^\"]*\"" | head -n 1 | sed 's/^"[^"]*":"//; s/"$//' || true; }
json_number() { grep -o "\"$1\":[0-9]*" | head -n 1 | sed 's/^"[^"]*"://' || true; }

step "Creating keys: registry authority, broker, AP-HP hospital, two associations, an auditor"
for id in pacte-75 relais-idf aphp-bichat asso-toit asso-passerelle asso-autre dpo-audit; do
  "$relais" keygen --agency "$id" --out "$keys" >/dev/null
done
say "authority pacte-75; broker relais-idf; hospital aphp-bichat; associations asso-toit,"
say "asso-passerelle (and asso-autre, not named in the referral); auditor dpo-audit"

step "Building and signing the agency registry (relais registry init/add/sign)"
"$relais" registry init --authority-key "$keys/pacte-75.key" --out "$reg" >/dev/null
add() { "$relais" registry add "$reg" --pub "$keys/$1.pub" --territory 75 "${@:2}" >/dev/null; }
add relais-idf --kind broker --name "Relais IDF (broker)"
add aphp-bichat --kind hospital --name "AP-HP Hopital Bichat, service social" --may-receive \
  --notice-without-consent hospital_discharge
add asso-toit --kind association --name "Association Un Toit Paris 18"
add asso-passerelle --kind association --name "Passerelle Solidarite 75"
add asso-autre --kind association --name "Autre association du 75"
add dpo-audit --kind auditor --name "DPO, audit du journal"
"$relais" registry sign "$reg" --authority-key "$keys/pacte-75.key" >/dev/null
"$relais" registry verify "$reg" --authority-pub "$auth_pub" | sed 's/^/    /'

step "Starting relaisd on loopback with its own journal"
port=$(free_port)
broker=tcp://127.0.0.1:$port
"$relaisd" --listen "$broker" --journal "$work/journal.db" --registry "$reg" \
  --authority-pub "$auth_pub" --key "$keys/relais-idf.key" --metrics-listen off \
  --checkpoint-every 2 >"$work/relaisd.log" 2>&1 &
relaisd_pid=$!
pids+=("$relaisd_pid")
for _ in $(seq 1 200); do
  grep -q relaisd_ready "$work/relaisd.log" && break
  kill -0 "$relaisd_pid" 2>/dev/null || die "relaisd exited: $(tail -n 5 "$work/relaisd.log")"
  sleep 0.1
done
grep -q relaisd_ready "$work/relaisd.log" || die "relaisd not ready after 20 s"
say "relaisd (pid $relaisd_pid) serves $broker, journal $work/journal.db"

common=(--registry "$reg" --authority-pub "$auth_pub" --broker "$broker")
publish() {  # publish AGENCY FILE: prints the "ok seq=N event=UUID case=REF" line
  "$relais" publish --from "$2" --key "$keys/$1.key" "${common[@]}" --timeout 20
}
tail_first() {  # tail_first AGENCY: the agency's next delivery, as one JSON line
  "$relais" tail --key "$keys/$1.key" "${common[@]}" --count 1 --timeout 10
}
tail_kind() {  # tail_kind AGENCY KIND: every pending delivery (all acked), the first of KIND
  local out kinds
  out=$("$relais" tail --key "$keys/$1.key" "${common[@]}" --timeout 3)
  kinds=$(grep -o '"kind":"[a-z_]*"' <<<"$out" | sed 's/"kind":"//; s/"//' | sort -u | paste -sd, - | sed 's/,/, /g')
  [ -z "$kinds" ] || say "$1 received: $kinds (all verified and opened)" >&2
  grep -m 1 "\"kind\":\"$2\"" <<<"$out" || true
}

today=$(date -u +%F)
exit_day=$(date -u -d "+3 days" +%F)
until_day=$(date -u -d "+120 days" +%F)

step "The hospital social worker records the person's consent (housing, both associations)"
cat >consent.json <<EOF
{
  "kind": "consent_granted",
  "consent": {
    "consent_id": "consent-bichat-0001",
    "method": "written",
    "purposes": ["housing"],
    "recipient_agencies": ["asso-toit", "asso-passerelle"],
    "tier": "referral",
    "valid_from": "$today",
    "valid_until": "$until_day",
    "collected_at": "${today}T09:30:00+01:00"
  },
  "actor": "as-bichat-07",
  "body": { "statement": "J'accepte que ma situation soit transmise aux associations Un Toit et Passerelle pour trouver un hébergement à ma sortie." }
}
EOF
consent_out=$(publish aphp-bichat consent.json) || die "consent not published"
case_ref=$(sed -n 's/.* case=\([^ ]*\).*/\1/p' <<<"$consent_out")
say "$consent_out"
say "pseudonymous case reference: $case_ref (no name in any clear header)"

step "The hospital publishes a discharge referral, sealed for both associations"
cat >referral.json <<EOF
{
  "kind": "referral",
  "referral_kind": "hospital_discharge",
  "case_ref": "$case_ref",
  "recipients": ["asso-toit", "asso-passerelle"],
  "consent_ref": "consent-bichat-0001",
  "legal_basis": "consent",
  "tier": "referral",
  "purpose": "housing",
  "due_at": "${exit_day}T10:00:00+01:00",
  "actor": "as-bichat-07",
  "body": {
    "person": {
      "family_name": "Durand",
      "given_names": "Karim",
      "birth_date": "1971-06-14",
      "sex": "M",
      "phone": "+33 6 00 00 00 01",
      "languages": ["fr", "kab"]
    },
    "exit_place": "Hôpital Bichat, accueil du bâtiment principal",
    "situation": "Sans domicile depuis l'été, dormait dans sa voiture avant l'hospitalisation.",
    "needs": {
      "housing_situation": "sans abri",
      "housing_need": "hébergement d'urgence ou LHSS",
      "health_continuity": "soins infirmiers à domicile deux fois par semaine",
      "reduced_mobility": true,
      "mobility_notes": "cannes anglaises pendant un mois",
      "animals": 0,
      "children": 0,
      "income_and_rights": "AAH en cours d'instruction",
      "addiction_care": false,
      "id_papers_missing": false
    },
    "referrer": {
      "name": "C. Assistante",
      "role": "assistante sociale",
      "service": "service social, Hôpital Bichat",
      "phone": "01 00 00 00 02"
    },
    "consent_summary": "Accepte le partage avec Un Toit et Passerelle pour l'hébergement.",
    "hospital": { "facility": "Hôpital Bichat", "ward": "orthopédie", "visit_number": "V-DEMO-0001" }
  }
}
EOF
referral_out=$(publish aphp-bichat referral.json) || die "referral not published"
say "$referral_out"

show_referral() {  # what a receiving worker needs first, not the person's whole file
  say "$1 opened seq $(json_number seq <<<"$2"): exit $(json_field exit_date <<<"$2")"
  say "    from: $(json_field exit_place <<<"$2")"
  say "    needs: $(json_field housing_need <<<"$2"); $(json_field health_continuity <<<"$2")"
}
step "Both associations receive the referral, verify its signature and open it"
line_a=$(tail_first asso-toit) || die "asso-toit received nothing"
grep -q '"kind":"referral"' <<<"$line_a" || die "asso-toit received something else first"
show_referral asso-toit "$line_a"
line_b=$(tail_first asso-passerelle) || die "asso-passerelle received nothing"
grep -q '"kind":"referral"' <<<"$line_b" || die "asso-passerelle received something else first"
show_referral asso-passerelle "$line_b"
referral_id=$(json_field event_id <<<"$line_a")
say "referral event id: $referral_id"

step "An association that is not a recipient gets nothing (3 s wait)"
other=$("$relais" tail --key "$keys/asso-autre.key" "${common[@]}" --timeout 3 || true)
[ -z "$other" ] || die "asso-autre received something"
say "asso-autre: no delivery, nothing to open"

step "Association Un Toit accepts, in reply to the referral"
cat >accepted.json <<EOF
{
  "kind": "accepted",
  "case_ref": "$case_ref",
  "in_reply_to": "$referral_id",
  "recipients": ["aphp-bichat"],
  "body": {
    "contact": { "name": "D. Educateur", "role": "travailleur social", "service": "Un Toit, Paris 18", "phone": "01 00 00 00 03" },
    "note": "Place en hébergement d'urgence réservée le jour de la sortie."
  }
}
EOF
accepted_out=$(publish asso-toit accepted.json) || die "accepted not published"
say "$accepted_out"
hospital_line=$(tail_kind aphp-bichat accepted)
[ -n "$hospital_line" ] || die "the hospital did not receive the acceptance"
say "aphp-bichat receives accepted from $(json_field emitter <<<"$hospital_line"):" \
  "$(json_field note <<<"$hospital_line")"

step "Association Passerelle is told the offer was taken"
taken=$(tail_kind asso-passerelle offer_taken)
[ -n "$taken" ] || die "asso-passerelle did not receive offer_taken"
say "asso-passerelle receives offer_taken (seq $(json_number seq <<<"$taken"), case $case_ref)"

step "The auditor verifies the journal (hash chain, checkpoints, every emitter's signature)"
"$relais" audit verify "$work/journal.db" --registry "$reg" --authority-pub "$auth_pub" |
  sed 's/^/    /'
[ "${PIPESTATUS[0]}" -eq 0 ] || die "audit verify failed"

step "Stopping relaisd (SIGTERM)"
kill -TERM "$relaisd_pid"
wait "$relaisd_pid" || die "relaisd exited with status $?"
pids=()
say "relaisd stopped cleanly"

entries=$(sqlite3 "file:$work/journal.db?mode=ro" "SELECT count(*) FROM entries" 2>/dev/null || echo "?")
step "Summary"
say "case $case_ref: consent recorded, referral sealed for 2 associations, opened by both,"
say "invisible to a third, accepted by asso-toit, offer_taken sent to asso-passerelle;"
say "journal of $entries entries verified by the auditor. Demo OK."
