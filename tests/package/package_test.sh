#!/usr/bin/env bash
# The Debian package and the install layout (issue 13, docs/operations.md): builds relais_*.deb
# with CPack from the build tree, inspects it (metadata, Depends, files: binaries, systemd units,
# examples; no test binaries, no key files), extracts it into a temporary root and runs the
# shipped unit's ExecStart as an unprivileged user (nobody, through setpriv, as systemd would run
# it as `relais`) against keys and a registry made with the packaged `relais` command. Checks that
# relaisd serves (/healthz, `relais admin`, `relais doctor`), keeps its state private, and stops
# cleanly on SIGTERM with a journal that verifies. Also checks `cmake --install` into a prefix.
#
# Needs root (to switch to the unprivileged user); CI runs as root. Everything above lives in a
# temporary directory. Then, only when relais is not already installed on this machine (CI's
# throw-away machine), it installs the package for real with dpkg -i (postinst: the `relais`
# user, /var/lib/relais 0700, /etc/relais root:relais 0750) and purges it again, checking that the
# purge removes the binaries and keeps the state directory.
#
# Usage: package_test.sh BUILD_DIR
set -uo pipefail

build=${1:?usage: package_test.sh BUILD_DIR}
build=$(realpath "$build") || exit 1
if [[ $(id -u) -ne 0 ]]; then
  echo "FAIL: this test must run as root: it runs relaisd as the unprivileged user nobody" \
    "through setpriv, as relaisd.service runs it as relais (CI runs as root)" >&2
  exit 1
fi
for tool in cpack dpkg-deb setpriv; do
  command -v "$tool" >/dev/null || { echo "FAIL: $tool is not installed" >&2; exit 1; }
done
run_user=nobody
run_group=$(id -gn nobody) || { echo "FAIL: no user nobody" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/relais-package.XXXXXX")
relaisd_pid=""
cleanup() {
  if [[ -n $relaisd_pid ]] && kill -0 "$relaisd_pid" 2>/dev/null; then
    kill -KILL "$relaisd_pid" 2>/dev/null
    wait "$relaisd_pid" 2>/dev/null
  fi
  rm -rf "$work"
}
trap cleanup EXIT
chmod 0755 "$work"  # nobody must reach the extracted binaries and the config below

failures=0
fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}
ok() { echo "ok: $*"; }

# --- build the package -------------------------------------------------------------------------
if ! cpack -G DEB --config "$build/CPackConfig.cmake" -B "$work/pkg" >"$work/cpack.log" 2>&1; then
  cat "$work/cpack.log" >&2
  echo "FAIL: cpack -G DEB failed" >&2
  exit 1
fi
debs=("$work"/pkg/relais_*.deb)
if [[ ${#debs[@]} -ne 1 || ! -f ${debs[0]} ]]; then
  echo "FAIL: expected one relais_*.deb, found: ${debs[*]}" >&2
  exit 1
fi
deb=${debs[0]}
ok "built $(basename "$deb") ($(stat -c %s "$deb") bytes)"

# --- metadata --------------------------------------------------------------------------------
info=$(dpkg-deb -I "$deb") || { echo "FAIL: dpkg-deb -I" >&2; exit 1; }
[[ $(dpkg-deb -f "$deb" Package) == relais ]] || fail "Package is not relais"
depends=$(dpkg-deb -f "$deb" Depends)
expected_libs=(libzmq5 libsodium23 libsqlite3-0 libcapnp-0.9.2 libboost-program-options1.74.0
  libcsv3 libstdc++6 passwd)
# relaisd links jemalloc unless the tree was configured with -DRELAIS_JEMALLOC=OFF.
grep -q '^RELAIS_JEMALLOC:BOOL=ON$' "$build/CMakeCache.txt" && expected_libs+=(libjemalloc2)
for lib in "${expected_libs[@]}"; do
  [[ ", $depends," == *", $lib"[\ ,]* ]] || fail "Depends lacks $lib: $depends"
done
for script in postinst prerm postrm; do
  [[ $info == *" $script "* ]] || fail "the package has no $script"
done
ok "Depends: $depends"
# JetStream mode's nats-server is recommended, never required (the embedded default runs alone).
recommends=$(dpkg-deb -f "$deb" Recommends)
[[ ", $recommends," == *", nats-server"[\ ,]* ]] || fail "Recommends lacks nats-server: $recommends"
[[ ", $depends," != *", nats-server"[\ ,]* ]] || fail "nats-server must not be in Depends"

# --- files -----------------------------------------------------------------------------------
listing=$(dpkg-deb -c "$deb" | awk '{print $6}')
for path in ./usr/bin/relaisd ./usr/bin/relais ./usr/bin/relais-inbox ./usr/bin/relais-import \
  ./usr/lib/systemd/system/relaisd.service ./usr/lib/systemd/system/relais-inbox@.service \
  ./usr/share/relais/examples/relaisd.conf ./usr/share/relais/examples/relais-inbox.conf \
  ./usr/share/doc/relais/operations.md ./usr/lib/systemd/system/relais-nats@.service \
  ./usr/share/relais/examples/relaisd-jetstream.conf \
  ./usr/share/relais/examples/nats/relais-n1.conf ./usr/share/relais/examples/nats/relais-n2.conf \
  ./usr/share/relais/examples/nats/relais-n3.conf \
  ./usr/share/relais/examples/relaisd.service.d/jetstream.conf \
  ./usr/share/doc/relais/scale-out.md; do
  grep -qxF "$path" <<<"$listing" || fail "the package lacks $path"
done
# Modes and owners: binaries root 0755, everything else (units, examples, docs) root 0644.
while read -r mode owner path; do
  case $path in
    */) continue ;;
    ./usr/bin/*) want=-rwxr-xr-x ;;
    *) want=-rw-r--r-- ;;
  esac
  [[ $mode == "$want" && $owner == root/root ]] ||
    fail "$path is $mode $owner, want $want root/root"
done < <(dpkg-deb -c "$deb" | awk '{print $1, $2, $6}')
if grep -E '_test$|test_|fuzz|bench|\.key$|\.db$|/tmp/|build' <<<"$listing"; then
  fail "the package holds test binaries, key files, databases or build paths (listed above)"
fi
if grep -v '^\./usr/' <<<"$listing" | grep -vx '\./'; then
  fail "the package installs outside /usr (listed above)"
fi
ok "$(wc -l <<<"$listing") paths, all under /usr, no test binaries or keys"

root=$work/root
dpkg-deb -x "$deb" "$root" || { echo "FAIL: dpkg-deb -x" >&2; exit 1; }
control=$work/control
dpkg-deb -e "$deb" "$control" || { echo "FAIL: dpkg-deb -e" >&2; exit 1; }
for script in postinst prerm postrm; do
  sh -n "$control/$script" || fail "$script: shell syntax error"
done
grep -q 'useradd --system' "$control/postinst" || fail "postinst does not create the relais user"
# The packaged relaisd is built without the test hooks (RELAIS_CRASH_POINTS builds them only into
# the uninstalled relaisd_test_hooks): no crash points, no fault-injecting VFS option.
if grep -aqE 'RELAIS_CRASH_AT|crash point |test-fault-file|relais-fault' "$root/usr/bin/relaisd"; then
  fail "the packaged relaisd carries test hooks (crash points or --test-fault-file)"
else
  ok "the packaged relaisd carries no test hooks"
fi
grep -q 'install -d -o relais -g relais -m 0700 "$dir"' "$control/postinst" ||
  fail "postinst does not create /var/lib/relais with mode 0700"

# --- the systemd unit --------------------------------------------------------------------------
unit=$root/usr/lib/systemd/system/relaisd.service
for line in User=relais StateDirectory=relais StateDirectoryMode=0700 NoNewPrivileges=yes \
  ProtectSystem=strict ProtectHome=yes PrivateTmp=yes ReadWritePaths=/var/lib/relais \
  WorkingDirectory=/var/lib/relais UMask=0077 'ExecReload=/bin/kill -HUP $MAINPID'; do
  grep -qxF "$line" "$unit" || fail "relaisd.service lacks '$line'"
done
# systemd's own parser, where installed: the only complaint allowed is the binary's absence
# from this machine's /usr/bin (the package is extracted, not installed).
# The NATS node unit (JetStream mode): Debian's nats-server as its user nats, hardened, stopped
# through lame duck mode with time for it.
nats_unit=$root/usr/lib/systemd/system/relais-nats@.service
for line in User=nats Group=nats 'ExecStart=/usr/sbin/nats-server -c /etc/nats/relais-%i.conf' \
  KillSignal=SIGUSR2 Restart=on-failure StateDirectory=nats StateDirectoryMode=0700 \
  ReadWritePaths=/var/lib/nats NoNewPrivileges=yes ProtectSystem=strict PrivateTmp=yes \
  ProtectHome=yes UMask=0077 LimitNOFILE=65536 CapabilityBoundingSet= \
  Conflicts=nats-server.service 'ExecReload=/bin/kill -HUP $MAINPID'; do
  grep -qxF "$line" "$nats_unit" || fail "relais-nats@.service lacks '$line'"
done
stop_timeout=$(sed -n 's/^TimeoutStopSec=\([0-9]*\)$/\1/p' "$nats_unit")
for n in 1 2 3; do
  conf=$root/usr/share/relais/examples/nats/relais-n$n.conf
  grep -qx "server_name: relais-n$n" "$conf" || fail "relais-n$n.conf: server_name is wrong"
  grep -qx '  store_dir: "/var/lib/nats/jetstream"' "$conf" ||
    fail "relais-n$n.conf: store_dir is not under the unit's /var/lib/nats"
  [[ $(grep -c '^    nats://10\.0\.0\.1[123]:6222$' "$conf") -eq 3 ]] ||
    fail "relais-n$n.conf does not route to the three nodes"
  # Lame duck (grace + duration) must end before systemd's SIGKILL.
  grace=$(sed -n 's/^lame_duck_grace_period: "\([0-9]*\)s"$/\1/p' "$conf")
  duration=$(sed -n 's/^lame_duck_duration: "\([0-9]*\)s"$/\1/p' "$conf")
  if [[ -z $grace || -z $duration || -z $stop_timeout ]] ||
    ((grace + duration + 10 > stop_timeout)); then
    fail "relais-n$n.conf: lame duck ${grace}s + ${duration}s exceeds TimeoutStopSec=$stop_timeout"
  fi
  if command -v nats-server >/dev/null; then
    check=$(nats-server -c "$conf" -t 2>&1) || fail "nats-server -t relais-n$n.conf: $check"
  fi
done
ok "relais-nats@.service and the 3-node configs (TimeoutStopSec=$stop_timeout)"
if command -v systemd-analyze >/dev/null; then
  for u in relaisd.service relais-inbox@.service relais-nats@.service; do
    copy=$work/${u/@/@check}
    cp "$root/usr/lib/systemd/system/$u" "$copy"
    complaints=$(systemd-analyze verify --man=no "$copy" 2>&1 | grep -v 'is not executable')
    [[ -z $complaints ]] || fail "systemd-analyze verify $u: $complaints"
  done
fi
exec_start=$(sed -n 's/^ExecStart=//p' "$unit")
[[ $exec_start == "/usr/bin/relaisd --config /etc/relais/relaisd.conf" ]] ||
  fail "unexpected ExecStart: $exec_start"

# --- a deployment made with the packaged relais command ---------------------------------------
relais=$root/usr/bin/relais
etc=$work/etc/relais
state=$work/var/lib/relais
mkdir -p "$etc" "$work/authority" "$work/asso"
"$relais" keygen --agency pacte-75 --out "$work/authority" >/dev/null || fail "keygen authority"
"$relais" keygen --agency broker-paris --out "$etc/keys" >/dev/null || fail "keygen broker"
"$relais" keygen --agency asso-test --out "$work/asso" >/dev/null || fail "keygen asso"
reg=$etc/registry.bin
"$relais" registry init --authority-key "$work/authority/pacte-75.key" --out "$reg" \
  --validity-days 60 >/dev/null || fail "registry init"
"$relais" registry add "$reg" --pub "$etc/keys/broker-paris.pub" --kind broker \
  --name "Broker Paris" >/dev/null || fail "registry add broker"
"$relais" registry add "$reg" --pub "$work/asso/asso-test.pub" --kind association \
  --name "Asso Test" --may-receive >/dev/null || fail "registry add asso"
"$relais" registry sign "$reg" --authority-key "$work/authority/pacte-75.key" >/dev/null ||
  fail "registry sign"
cp "$work/authority/pacte-75.pub" "$etc/authority.pub"
# What postinst and systemd set up: /etc/relais root:relais 0750, the key owned by the service
# user with mode 0600, the state directory owned by it with mode 0700.
chown -R root:"$run_group" "$work/etc/relais"
chmod 0750 "$etc" "$etc/keys"
chmod 0644 "$reg" "$etc/authority.pub"
chown "$run_user:$run_group" "$etc/keys/broker-paris.key"
chmod 0600 "$etc/keys/broker-paris.key"
install -d -o "$run_user" -g "$run_group" -m 0700 "$state"
chmod 0755 "$work/var/lib" "$work/var" "$work/etc"

# The packaged example config, with this root's paths and loopback wildcard ports.
sed -e "s|/etc/relais|$etc|g" -e "s|/var/lib/relais|$state|g" \
  -e "s|^listen = .*|listen = tcp://127.0.0.1:*|" \
  -e "s|^metrics-listen = .*|metrics-listen = 127.0.0.1:0|" \
  "$root/usr/share/relais/examples/relaisd.conf" >"$etc/relaisd.conf"
chmod 0640 "$etc/relaisd.conf"
chown root:"$run_group" "$etc/relaisd.conf"

# --- run the unit's ExecStart as the unprivileged user -----------------------------------------
cmd=${exec_start//\/usr\//$root/usr/}
cmd=${cmd//\/etc\/relais/$etc}
log=$work/relaisd.log
(
  cd "$state" || exit 1
  umask 0077
  # shellcheck disable=SC2086 # ExecStart is a word list, as systemd splits it
  exec setpriv --reuid="$run_user" --regid="$run_group" --clear-groups --no-new-privs $cmd
) >"$log" 2>&1 &
relaisd_pid=$!
for _ in $(seq 1 100); do
  grep -q relaisd_ready "$log" && break
  kill -0 "$relaisd_pid" 2>/dev/null || break
  sleep 0.1
done
if ! grep -q relaisd_ready "$log"; then
  cat "$log" >&2
  echo "FAIL: relaisd did not become ready under the unit's ExecStart" >&2
  exit 1
fi
ready=$(grep relaisd_ready "$log")
endpoint=$(sed -n 's/.* listen=\([^ ]*\).*/\1/p' <<<"$ready")
metrics_port=$(sed -n 's/.* metrics_port=\([0-9]*\).*/\1/p' <<<"$ready")
ok "relaisd ready as $run_user on $endpoint (metrics port $metrics_port)"

uid=$(awk '/^Uid:/ {print $2}' "/proc/$relaisd_pid/status")
[[ $uid == "$(id -u "$run_user")" ]] || fail "relaisd runs as uid $uid, not $run_user"
journal=$state/journal.db
if [[ -f $journal ]]; then
  [[ $(stat -c '%U %a' "$journal") == "$run_user 600" ]] ||
    fail "journal is $(stat -c '%U %a' "$journal"), want $run_user 600"
else
  fail "no journal at $journal"
fi

# /healthz over plain bash TCP (no curl needed).
if exec 3<>"/dev/tcp/127.0.0.1/$metrics_port"; then
  printf 'GET /healthz HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3
  health=$(timeout 5 cat <&3)
  exec 3<&-
  [[ $health == *"200"* && $health == *ok* ]] || fail "/healthz answered: $health"
else
  fail "cannot connect to the metrics port $metrics_port"
fi

admin=$("$relais" admin dead-letters --key "$etc/keys/broker-paris.key" --registry "$reg" \
  --authority-pub "$etc/authority.pub" --broker "$endpoint" 2>&1) ||
  fail "relais admin dead-letters failed: $admin"
ok "relais admin dead-letters: $(head -1 <<<"$admin")"

# The operator's check, from relaisd's own config file (the port is a wildcard there: --broker).
doctor=$("$relais" doctor --relaisd-config "$etc/relaisd.conf" --broker "$endpoint" 2>&1)
doctor_rc=$?
echo "$doctor"
if [[ $doctor_rc -eq 2 ]] || grep -q '^FAIL' <<<"$doctor"; then
  fail "relais doctor found failures in the packaged deployment"
fi
grep -q '^OK    broker' <<<"$doctor" || fail "relais doctor did not reach the broker"
grep -q '^OK    state-dir' <<<"$doctor" || fail "the state directory is not private"
grep -q "^OK    journal   $journal" <<<"$doctor" || fail "relais doctor did not check the journal"

# --- SIGTERM stops it cleanly ------------------------------------------------------------------
kill -TERM "$relaisd_pid"
for _ in $(seq 1 100); do
  kill -0 "$relaisd_pid" 2>/dev/null || break
  sleep 0.1
done
if kill -0 "$relaisd_pid" 2>/dev/null; then
  fail "relaisd still runs 10 s after SIGTERM"
else
  wait "$relaisd_pid"
  rc=$?
  [[ $rc -eq 0 ]] || fail "relaisd exited $rc after SIGTERM"
  grep -q relaisd_stopped "$log" || fail "relaisd did not log relaisd_stopped"
  ok "relaisd stopped on SIGTERM (exit $rc)"
fi
relaisd_pid=""

verify=$("$relais" audit verify "$journal" --registry "$reg" --authority-pub "$etc/authority.pub" \
  2>&1) || fail "the journal does not verify: $verify"
ok "$verify"

# --- cmake --install layout --------------------------------------------------------------------
prefix=$work/prefix
if cmake --install "$build" --prefix "$prefix" >"$work/install.log" 2>&1; then
  for path in bin/relaisd bin/relais bin/relais-inbox bin/relais-import \
    lib/systemd/system/relaisd.service lib/systemd/system/relais-nats@.service \
    share/relais/examples/relaisd.conf share/relais/examples/nats/relais-n1.conf \
    share/doc/relais/operations.md; do
    [[ -e $prefix/$path ]] || fail "cmake --install did not install $path"
  done
  "$prefix/bin/relaisd" --help >/dev/null || fail "installed relaisd --help failed"
  "$prefix/bin/relais" --help >/dev/null || fail "installed relais --help failed"
  ok "cmake --install layout"
else
  cat "$work/install.log" >&2
  fail "cmake --install failed"
fi

# --- dpkg -i on this machine, then purge ----------------------------------------------------------
if dpkg-query -W -f='${Status}' relais 2>/dev/null | grep -q "install ok installed"; then
  echo "note: relais is installed on this machine; the real dpkg -i/--purge check is not run"
else
  if dpkg -i "$deb" >"$work/dpkg.log" 2>&1; then
    id relais >/dev/null 2>&1 || fail "postinst did not create the relais user"
    [[ "$(stat -c '%U %a' /var/lib/relais 2>/dev/null)" == "relais 700" ]] ||
      fail "postinst: /var/lib/relais is not relais 0700"
    [[ "$(stat -c '%U:%G %a' /etc/relais 2>/dev/null)" == "root:relais 750" ]] ||
      fail "postinst: /etc/relais is not root:relais 0750"
    /usr/bin/relaisd --help >/dev/null || fail "installed /usr/bin/relaisd --help failed"
    dpkg --purge relais >>"$work/dpkg.log" 2>&1 || fail "dpkg --purge failed"
    [[ ! -e /usr/bin/relaisd ]] || fail "purge left /usr/bin/relaisd"
    [[ -d /var/lib/relais ]] || fail "purge deleted /var/lib/relais (journals and keys live there)"
    ok "dpkg -i (postinst) and dpkg --purge on this machine"
  else
    cat "$work/dpkg.log" >&2
    fail "dpkg -i failed"
  fi
fi

if [[ $failures -ne 0 ]]; then
  echo "$failures failure(s); relaisd log:" >&2
  cat "$log" >&2
  exit 1
fi
echo "package test: OK"
