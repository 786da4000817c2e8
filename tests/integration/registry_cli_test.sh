#!/usr/bin/env bash
# Cross-process test of `relais keygen` and `relais registry` (docs/registry.md): builds and signs
# a registry with the real binary, then checks that an edited unsigned registry, a registry
# checked against the wrong authority, a tampered or expired registry and a world-readable key
# file are each refused with the documented exit code and message.
#
# Usage: registry_cli_test.sh /path/to/relais
set -uo pipefail

relais=${1:?usage: registry_cli_test.sh /path/to/relais}
relais=$(realpath "$relais") || exit 1  # the test runs in its own directory
[[ -x $relais ]] || { echo "FAIL: $relais is not an executable" >&2; exit 1; }
work=$(mktemp -d "${TMPDIR:-/tmp}/relais-registry-cli.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 1

failures=0
fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}

# expect EXIT_CODE PATTERN -- COMMAND...: runs COMMAND, checks its exit code and that its
# combined stdout+stderr contains PATTERN (a fixed string; empty matches anything).
expect() {
  local want=$1 pattern=$2
  shift 3
  local out rc
  out=$("$@" 2>&1)
  rc=$?
  if [[ $rc -ne $want ]]; then
    fail "exit $rc (want $want): $*"$'\n'"$out"
  elif [[ -n $pattern && $out != *"$pattern"* ]]; then
    fail "output lacks '$pattern': $*"$'\n'"$out"
  else
    echo "ok: exit $rc: $*"
  fi
  last_output=$out
}

key_id_of() { sed -n 's/^key-id: //p' "$1"; }

# --- identities: an authority, a second (wrong) authority, three agencies -------------------
expect 0 "key id:" -- "$relais" keygen --agency pacte-75 --out authority
expect 0 "" -- "$relais" keygen --agency pacte-93 --out other-authority
for agency in aphp-hopital-nord asso-le-relais siao-75; do
  expect 0 "keys/$agency.pub" -- "$relais" keygen --agency "$agency" --out keys
  # The printed output names the key id and never contains secret material.
  secret=$(sed -n 's/^sign-secret: //p' "keys/$agency.key" | cut -c1-32)
  [[ -n $secret ]] || fail "keys/$agency.key has no sign-secret line"
  [[ $last_output != *"$secret"* ]] || fail "keygen output contains the secret"
  [[ $last_output == *"$(key_id_of "keys/$agency.pub")"* ]] || fail "keygen did not print key id"
  mode=$(stat -c %a "keys/$agency.key")
  [[ $mode == 600 ]] || fail "keys/$agency.key has mode $mode, want 600"
done
expect 1 "key_file_exists" -- "$relais" keygen --agency siao-75 --out keys
expect 1 "not a valid agency id" -- "$relais" keygen --agency "Not Valid" --out keys

# --- build and sign the registry -------------------------------------------------------------
expect 0 "serial 1" -- "$relais" registry init --authority-key authority/pacte-75.key \
  --out registry.bin --validity-days 30
expect 0 "added aphp-hopital-nord" -- "$relais" registry add registry.bin \
  --pub keys/aphp-hopital-nord.pub --kind hospital --name "AP-HP Hopital Nord" --territory 75 \
  --notice-without-consent hospital_discharge
expect 0 "receives: yes" -- "$relais" registry add registry.bin --pub keys/asso-le-relais.pub \
  --kind association --name "Association Le Relais" --territory 75
expect 0 "added siao-75" -- "$relais" registry add registry.bin --pub keys/siao-75.pub \
  --kind siao --name "SIAO de Paris" --territory 75
expect 1 "agency_exists" -- "$relais" registry add registry.bin --pub keys/siao-75.pub \
  --kind siao --name "SIAO again"
expect 1 "only the broker emits" -- "$relais" registry add registry.bin \
  --pub other-authority/pacte-93.pub --kind association --name X --may-emit rupture

# Edited but not yet signed: refused.
expect 2 "registry_unsigned" -- "$relais" registry verify registry.bin \
  --authority-pub authority/pacte-75.pub

expect 0 "serial 2, 3 agencies" -- "$relais" registry sign registry.bin \
  --authority-key authority/pacte-75.key
expect 0 "ok: registry.bin serial 2" -- "$relais" registry verify registry.bin \
  --authority-pub authority/pacte-75.pub
expect 0 "asso-le-relais" -- "$relais" registry show registry.bin
expect 0 '"id":"siao-75"' -- "$relais" registry show registry.bin --json
cp registry.bin signed.bin

# --- refusals --------------------------------------------------------------------------------
# An edit (revocation) clears the signature: refused until signed again.
expect 0 "revoked asso-le-relais" -- "$relais" registry revoke registry.bin --agency asso-le-relais
expect 2 "registry_unsigned" -- "$relais" registry verify registry.bin \
  --authority-pub authority/pacte-75.pub
expect 0 "serial 3" -- "$relais" registry sign registry.bin --authority-key authority/pacte-75.key
expect 0 "(1 revoked)" -- "$relais" registry verify registry.bin \
  --authority-pub authority/pacte-75.pub

# Checked against another authority: refused, naming both key ids.
expect 2 "registry_bad_signature" -- "$relais" registry verify registry.bin \
  --authority-pub other-authority/pacte-93.pub
[[ $last_output == *"expected authority key id '$(key_id_of other-authority/pacte-93.pub)'"* ]] ||
  fail "the message does not name the expected authority key id"
[[ $last_output == *"'$(key_id_of authority/pacte-75.pub)'"* ]] ||
  fail "the message does not name the found authority key id"

# Another authority cannot sign this registry.
expect 1 "wrong_authority_key" -- "$relais" registry sign registry.bin \
  --authority-key other-authority/pacte-93.key

# One byte changed after signing: refused.
python_flip='import sys; b = bytearray(open(sys.argv[1], "rb").read()); i = b.find(b"SIAO de Paris"); b[i] ^= 1; open(sys.argv[1], "wb").write(b)'
cp signed.bin tampered.bin
if command -v python3 >/dev/null; then
  python3 -c "$python_flip" tampered.bin
else
  sed -i 's/SIAO de Paris/SIAO de Parix/' tampered.bin
fi
expect 2 "registry_bad_signature" -- "$relais" registry verify tampered.bin \
  --authority-pub authority/pacte-75.pub

# Expired and not yet valid.
expect 2 "registry_expired" -- "$relais" registry verify signed.bin \
  --authority-pub authority/pacte-75.pub --at 2100-01-01
expect 2 "not valid yet" -- "$relais" registry verify signed.bin \
  --authority-pub authority/pacte-75.pub --at 2000-01-01

# Truncated file.
head -c 64 signed.bin >truncated.bin
expect 2 "malformed" -- "$relais" registry verify truncated.bin \
  --authority-pub authority/pacte-75.pub

# A world-readable (or group-readable) authority key file is refused.
chmod 644 authority/pacte-75.key
expect 2 "key_file_permissions" -- "$relais" registry sign registry.bin \
  --authority-key authority/pacte-75.key
[[ $last_output == *"chmod 600 authority/pacte-75.key"* ]] || fail "no chmod 600 hint"
chmod 640 authority/pacte-75.key
expect 2 "key_file_permissions" -- "$relais" registry sign registry.bin \
  --authority-key authority/pacte-75.key
chmod 600 authority/pacte-75.key
expect 0 "serial 4" -- "$relais" registry sign registry.bin --authority-key authority/pacte-75.key

# Usage errors exit 1; --help exits 0 everywhere.
expect 1 "unknown command" -- "$relais" frobnicate
expect 1 "unknown subcommand" -- "$relais" registry frobnicate
expect 1 "--authority-pub" -- "$relais" registry verify registry.bin
expect 1 "no_such_file" -- "$relais" registry show missing.bin
for args in "--help" "keygen --help" "registry --help" "registry init --help" \
  "registry add --help" "registry revoke --help" "registry sign --help" \
  "registry show --help" "registry verify --help"; do
  # shellcheck disable=SC2086
  expect 0 "Exit codes:" -- "$relais" $args
done

if [[ $failures -ne 0 ]]; then
  echo "$failures check(s) failed" >&2
  exit 1
fi
echo "all registry CLI checks passed"
