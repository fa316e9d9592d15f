#!/usr/bin/env bash
# The package's fast check (seconds; scripts/test.sh runs it, no release
# build): the full install on a clean Debian 12 is scripts/deb-check.sh.
#   1. the package tree, staged by scripts/package.sh with stub binaries,
#      holds exactly packaging/layout.txt (paths and modes);
#   2. `systemd-analyze verify` on every unit, silent (a warning fails);
#   3. the services' hardening is there (the keys issue 18 asks for);
#   4. the kiosk session ships disabled: no maintainer script enables a unit;
#   5. shellcheck on the maintainer scripts and the packaging scripts;
#   6. the control template names no -dev package.
set -euo pipefail
# shellcheck source=scripts/env.sh
. "$(dirname "${BASH_SOURCE[0]}")/env.sh"

PKG="$REPO/packaging"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
fail=0
bad() {
  printf 'deb-lint: %s\n' "$*" >&2
  fail=1
}

section "deb-lint: package layout (packaging/layout.txt)"
mkdir -p "$tmp/bin"
for b in countersign countersign-app countersign-fp-helper; do
  printf '#!/bin/sh\nexit 0\n' >"$tmp/bin/$b"
  chmod 0755 "$tmp/bin/$b"
done
"$REPO/scripts/package.sh" --stage "$tmp/root" "$tmp/bin"
info "$(grep -cv '^#' "$PKG/layout.txt") files as specified"

section "deb-lint: systemd-analyze verify"
command -v systemd-analyze >/dev/null || die "systemd-analyze is needed (package systemd)"
# The units name /usr/bin/... executables, which verify requires to exist:
# the copies checked point at the staged tree (and a stand-in for cage).
mkdir -p "$tmp/units"
printf '#!/bin/sh\nexit 0\n' >"$tmp/root/usr/bin/cage"
chmod 0755 "$tmp/root/usr/bin/cage"
for u in "$tmp"/root/lib/systemd/system/*; do
  sed "s|/usr/bin/|$tmp/root/usr/bin/|g" "$u" >"$tmp/units/$(basename "$u")"
done
for u in "$tmp"/units/*; do
  if out="$(systemd-analyze verify "$u" 2>&1)" && [ -z "$out" ]; then
    info "$(basename "$u"): verified"
  else
    bad "$(basename "$u"): systemd-analyze verify: ${out:-exit status non-zero}"
  fi
done

section "deb-lint: hardening of the services"
for u in countersign-api.service countersign-sync.service countersign-kiosk.service; do
  f="$PKG/systemd/$u"
  for key in User=countersign ProtectSystem=strict ProtectHome=yes NoNewPrivileges=yes \
    PrivateTmp=yes RestrictAddressFamilies= ReadWritePaths= UMask=0077; do
    grep -q "^$key" "$f" || bad "$u lacks $key"
  done
  # Writes go to the data dir, the anchor and (the kiosk) its own home only.
  rw="$(sed -n 's/^ReadWritePaths=//p' "$f" | tr ' ' '\n' |
    grep -v -x -e /var/lib/countersign -e /var/lib/countersign-anchor -e /var/lib/countersign-kiosk || true)"
  [ -z "$rw" ] || bad "$u may write elsewhere: $rw"
done
info "ProtectSystem=strict, ProtectHome, NoNewPrivileges, PrivateTmp, RestrictAddressFamilies, ReadWritePaths"
grep -q '^ListenStream=127\.0\.0\.1:' "$PKG/systemd/countersign-api.socket" ||
  bad "countersign-api.socket does not listen on loopback"

section "deb-lint: the kiosk session ships disabled"
# (The next steps postinst prints say `sudo systemctl enable`: text, not run.)
if grep -nE '^[[:space:]]*(systemctl|deb-systemd-helper)[^#]*[[:space:]](enable|reenable)\b' "$PKG"/debian/*; then
  bad "a maintainer script enables a unit"
else
  info "no maintainer script enables a unit"
fi

section "deb-lint: shellcheck"
command -v shellcheck >/dev/null || die "shellcheck is needed (scripts/setup.sh installs it)"
scripts=("$PKG"/debian/postinst "$PKG"/debian/prerm "$PKG"/debian/postrm "$PKG"/countersign-admin
  "$REPO"/scripts/package.sh "$REPO"/scripts/deb-*.sh)
if shellcheck -x "${scripts[@]}"; then
  info "${#scripts[@]} scripts clean"
else
  bad "shellcheck"
fi
for s in "$PKG"/debian/postinst "$PKG"/debian/prerm "$PKG"/debian/postrm "$PKG"/countersign-admin; do
  head -n 1 "$s" | grep -qx '#!/bin/sh' || bad "$s: maintainer scripts run under /bin/sh"
done

section "deb-lint: control"
if grep -E '^(Depends|Recommends|Pre-Depends):' "$PKG/debian/control.in" | grep -E -- '-dev\b'; then
  bad "the control template depends on a -dev package"
fi

[ "$fail" = 0 ] || die "deb-lint failed"
info "deb-lint: ok"
