#!/usr/bin/env bash
# The package on a clean Debian 12 (on demand, as root; minutes, not in CI:
# scripts/deb-lint.sh is CI's fast check). Builds a minimal bookworm root
# with debootstrap from the Debian mirror this machine's apt uses, and in it:
#   1. installs the .deb with apt (its Depends come from the mirror);
#   2. countersign --version, countersign-app --version, and `countersign
#      init` through countersign-admin, as the user countersign;
#   3. the API started the way countersign-api.socket/.service start it
#      (their ListenStream, User, Environment and ExecStart, read from the
#      installed units; systemd-socket-activate holds the socket, as systemd
#      does), answering over TLS, served by a process of the user countersign;
#   4. apt remove: the evidence is kept; apt purge: it says so, then deletes it.
#
#   scripts/deb-check.sh [DEB]   (default: the newest $CARGO_TARGET_DIR/deb/*.deb)
#
# The base root is cached in /var/tmp/countersign-deb-check/ (DEB_CHECK_FRESH=1
# makes it anew). DEB_MIRROR overrides the mirror read from apt's sources.
set -euo pipefail
# shellcheck source=scripts/env.sh
. "$(dirname "${BASH_SOURCE[0]}")/env.sh"

[ "$(id -u)" -eq 0 ] || die "run as root (debootstrap, chroot)"
deb="${1:-$(find "$CARGO_TARGET_DIR/deb" -maxdepth 1 -name 'countersign_*_amd64.deb' -printf '%T@ %p\n' 2>/dev/null | sort -n | tail -n 1 | cut -d' ' -f2-)}"
if [ -z "$deb" ] || [ ! -f "$deb" ]; then
  die "no package: build it with scripts/package.sh, or name it"
fi
deb="$(realpath "$deb")"
command -v debootstrap >/dev/null || apt-get install -y debootstrap >/dev/null

# The mirror this machine's apt uses for bookworm (deb822 or one-line form).
mirror="${DEB_MIRROR:-}"
if [ -z "$mirror" ]; then
  mirror="$(awk '/^URIs:/ { u = $2 } /^Suites:/ && / bookworm( |$)/ { print u; exit }' \
    /etc/apt/sources.list.d/*.sources 2>/dev/null || true)"
fi
if [ -z "$mirror" ] && [ -f /etc/apt/sources.list ]; then
  mirror="$(awk '$1 == "deb" && $3 == "bookworm" { print $2; exit }' /etc/apt/sources.list)"
fi
[ -n "$mirror" ] || die "no bookworm mirror in apt's sources: set DEB_MIRROR"

cache=/var/tmp/countersign-deb-check
base="$cache/bookworm-minbase.tar"
mkdir -p "$cache"
if [ "${DEB_CHECK_FRESH:-0}" = 1 ] || [ ! -f "$base" ]; then
  section "deb-check: debootstrap --variant=minbase bookworm"
  rm -rf "$cache/base"
  debootstrap --variant=minbase bookworm "$cache/base" "$mirror" >"$cache/debootstrap.log" 2>&1 ||
    die "debootstrap failed: $cache/debootstrap.log"
  tar -C "$cache/base" -cf "$base" .
  rm -rf "$cache/base"
fi

root="$(mktemp -d /var/tmp/countersign-deb-check/root.XXXXXX)"
mounted=()
cleanup() {
  local i
  if [ -n "${api_pid:-}" ]; then kill "$api_pid" 2>/dev/null || true; fi
  for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do umount -l "${mounted[$i]}" 2>/dev/null || true; done
  rm -rf "$root"
}
trap cleanup EXIT
tar -C "$root" -xf "$base"
for m in proc sys dev dev/pts; do
  mkdir -p "$root/$m"
  case "$m" in
  proc) mount -t proc proc "$root/proc" ;;
  *) mount --bind "/$m" "$root/$m" ;;
  esac
  mounted+=("$root/$m")
done
cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
echo "deb $mirror bookworm main" >"$root/etc/apt/sources.list"
in_root() { chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive "$@"; }

section "deb-check: a clean Debian $(cat "$root/etc/debian_version") root ($(du -shx "$root" | cut -f1))"
# shellcheck disable=SC2016 # dpkg-query's format, not the shell's
in_root dpkg-query -W -f '${Package}\n' | wc -l | xargs printf '    %s packages installed, none of them countersign\n'
in_root apt-get update -qq

section "deb-check: apt install $(basename "$deb")"
cp "$deb" "$root/tmp/"
in_root apt-get install -y -q --no-install-recommends "/tmp/$(basename "$deb")" >"$cache/install.log" 2>&1 ||
  { tail -n 30 "$cache/install.log"; die "apt install failed ($cache/install.log)"; }
# What the maintainer scripts printed (the next steps), and what apt pulled in.
sed -n '/^Setting up countersign/,$p' "$cache/install.log"
# shellcheck disable=SC2016 # dpkg-query's format, not the shell's
info "$(grep -c '^Setting up' "$cache/install.log") packages set up; Depends: $(in_root dpkg-query -W -f '${Depends}' countersign)"
info "user: $(in_root getent passwd countersign)"
info "dirs: $(in_root stat -c '%A %U %n' /var/lib/countersign /var/lib/countersign-anchor | tr '\n' ' ')"

section "deb-check: --version and init"
in_root countersign --version
in_root countersign-app --version
printf 'a-long-first-admin-password\n' | in_root countersign-admin init --admin alice |
  sed -e 's/\(secret: \).*/\1(printed once; elided here)/' -e 's/\(uri: *\).*/\1(elided)/'
in_root countersign-admin status | head -n 5
info "data dir: $(in_root stat -c '%A %U' /var/lib/countersign), ledger: $(in_root stat -c '%a %U %s bytes' /var/lib/countersign/ledger.db)"

section "deb-check: the API, socket-activated as the units say"
unitdir="$root/lib/systemd/system"
listen="$(sed -n 's/^ListenStream=//p' "$unitdir/countersign-api.socket")"
user="$(sed -n 's/^User=//p' "$unitdir/countersign-api.service")"
exec_start="$(sed -n 's/^ExecStart=//p' "$unitdir/countersign-api.service")"
mapfile -t envs < <(sed -n 's/^Environment=//p' "$unitdir/countersign-api.service")
info "socket $listen, user $user, ExecStart=$exec_start"
in_root apt-get install -y -q --no-install-recommends systemd curl openssl >>"$cache/install.log" 2>&1 ||
  die "installing systemd-socket-activate and curl in the root failed"
# shellcheck disable=SC2086 # ExecStart is a command line, split as systemd does here
chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
  runuser -u "$user" -- /usr/bin/systemd-socket-activate -l "$listen" \
  "${envs[@]/#/--setenv=}" $exec_start >"$cache/api.log" 2>&1 &
api_pid=$!
for _ in $(seq 1 100); do
  if in_root curl -sk -o /dev/null "https://$listen/.well-known/jwks.json"; then break; fi
  sleep 0.2
done
answer="$(in_root curl -sk --max-time 10 "https://$listen/.well-known/jwks.json")" ||
  { cat "$cache/api.log"; die "the API did not answer on $listen"; }
info "GET https://$listen/.well-known/jwks.json -> $(printf '%s' "$answer" | cut -c1-100)..."
# The server: the countersign process whose root is this chroot (other
# countersign processes on this machine are not ours), its uid named by the
# root's own passwd.
server_user=""
for pid in $(pgrep -x countersign || true); do
  [ "$(readlink "/proc/$pid/root")" = "$root" ] || continue
  uid="$(awk '/^Uid:/ { print $2 }' "/proc/$pid/status")"
  server_user="$(in_root getent passwd "$uid" | cut -d: -f1)"
  info "the server process (pid $pid, $(tr '\0' ' ' <"/proc/$pid/cmdline" | cut -c1-60)) runs as: $server_user (uid $uid)"
done
[ "$server_user" = "$user" ] || die "the API does not run as $user (found '${server_user}')"
pin="$(in_root countersign-admin --json api pin --out /var/lib/countersign/kiosk-pin.json |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["tls_cert_sha256"])')"
served="$(in_root sh -c "echo | openssl s_client -connect $listen 2>/dev/null | openssl x509 -outform der" 2>/dev/null | sha256sum | cut -d' ' -f1 || true)"
info "pinned certificate SHA-256 $pin"
[ -z "$served" ] || info "served certificate SHA-256 $served"
kill "$api_pid" 2>/dev/null || true
wait "$api_pid" 2>/dev/null || true
api_pid=

section "deb-check: apt remove keeps the evidence"
events_before="$(in_root countersign-admin --json log verify | python3 -c 'import json, sys; print(json.load(sys.stdin)["events"])')"
in_root apt-get remove -y -q countersign 2>&1 | grep -E '^(Removing|countersign|.?apt purge)' || true
in_root ls -l /var/lib/countersign
[ -f "$root/var/lib/countersign/ledger.db" ] || die "apt remove deleted the ledger"
info "the ledger ($events_before events) and keys are kept"

section "deb-check: apt purge says so, then deletes it"
in_root apt-get purge -y -q countersign 2>&1 | grep -E '^(Purging|countersign)' || true
[ ! -e "$root/var/lib/countersign" ] || die "apt purge left /var/lib/countersign"
info "/var/lib/countersign is gone"

section "deb-check: passed"
