#!/usr/bin/env bash
# Builds the Debian package: target/countersign_<version>_amd64.deb
# (under $CARGO_TARGET_DIR/deb/), from a clone with one command:
#
#   scripts/setup.sh && scripts/package.sh
#
# Built by hand with dpkg-deb (no Tauri bundler, no cargo-deb: both need
# tools this machine cannot download, and the package needs maintainer
# scripts and units of its own anyway). The steps:
#   1. the UI (npm run build: the app embeds ui/dist);
#   2. cargo build --release of the app, the CLI and the fingerprint helper;
#   3. the face models checked against packaging/models.sha256;
#   4. the tree staged from packaging/layout.txt, binaries stripped;
#   5. Depends from dpkg-shlibdeps (runtime libraries; a -dev package is
#      refused), Recommends: cage;
#   6. dpkg-deb --root-owner-group, then the .deb's contents are checked
#      against packaging/layout.txt.
#
#   scripts/package.sh --stage DIR BINDIR   only step 3-4 into DIR, taking the
#       binaries from BINDIR (scripts/deb-lint.sh stages stubs this way)
#   scripts/package.sh --no-build           skip steps 1-2 (binaries built)
set -euo pipefail
# shellcheck source=scripts/env.sh
. "$(dirname "${BASH_SOURCE[0]}")/env.sh"

PKG="$REPO/packaging"
VERSION="$(sed -n '/^\[workspace.package\]/,/^\[/s/^version = "\(.*\)"/\1/p' "$REPO/Cargo.toml")"
[ -n "$VERSION" ] || die "no version in Cargo.toml's [workspace.package]"
MODELS="${COUNTERSIGN_MODELS:-$REPO/assets/models}"

# The binaries of the package, by their path in it, and their cargo names.
declare -A BINS=(
  [usr/bin/countersign]=countersign
  [usr/bin/countersign-app]=countersign-app
  [usr/libexec/countersign/countersign-fp-helper]=countersign-fp-helper
)

check_models() {
  (cd "$MODELS" && sha256sum --check --strict --quiet "$PKG/models.sha256") ||
    die "the face models in $MODELS do not match packaging/models.sha256 (run scripts/setup.sh)"
}

# stage ROOT BINDIR: the package's files (not DEBIAN/) under ROOT.
stage() {
  local root="$1" bindir="$2" path
  check_models
  rm -rf "$root"
  for path in "${!BINS[@]}"; do
    install -D -m 0755 "$bindir/${BINS[$path]}" "$root/$path"
  done
  install -D -m 0755 "$PKG/countersign-admin" "$root/usr/sbin/countersign-admin"
  install -d -m 0755 "$root/usr/share/countersign/models"
  while read -r _ file; do
    install -m 0644 "$MODELS/$file" "$root/usr/share/countersign/models/$file"
  done <"$PKG/models.sha256"
  install -m 0644 "$PKG/models.sha256" "$root/usr/share/countersign/models/SHA256SUMS"
  install -D -m 0644 "$REPO/assets/policy/default.toml" "$root/usr/share/countersign/policy/default.toml"
  install -d -m 0755 "$root/lib/systemd/system"
  install -m 0644 "$PKG"/systemd/*.service "$PKG"/systemd/*.socket "$root/lib/systemd/system/"
  install -D -m 0644 "$REPO/README.md" "$root/usr/share/doc/countersign/README.md"
  install -m 0644 "$PKG/copyright" "$root/usr/share/doc/countersign/copyright"
}

# The layout spec: "MODE PATH" lines, sorted.
layout_spec() {
  grep -v '^#' "$PKG/layout.txt" | grep -v '^$' | sort -k2
}

# check_layout ROOT: the staged tree holds exactly the spec's files and modes.
check_layout() {
  local root="$1" got
  got="$(cd "$root" && find . -path ./DEBIAN -prune -o -type f -printf '%m %P\n' |
    awk '{ printf "%04d %s\n", $1, $2 }' | sort -k2)"
  diff -u <(layout_spec) <(printf '%s\n' "$got") >&2 ||
    die "the staged package differs from packaging/layout.txt (above: - spec, + staged)"
}

if [ "${1:-}" = "--stage" ]; then
  [ $# -eq 3 ] || die "usage: $0 --stage DIR BINDIR"
  stage "$2" "$3"
  check_layout "$2"
  exit 0
fi

build=1
if [ "${1:-}" = "--no-build" ]; then
  build=0
  shift
fi
[ $# -eq 0 ] || die "usage: $0 [--no-build] | --stage DIR BINDIR"
for tool in dpkg-deb dpkg-shlibdeps strip npm cargo; do
  command -v "$tool" >/dev/null || die "$tool is needed (scripts/setup.sh installs it)"
done

started=$SECONDS
if [ "$build" = 1 ]; then
  section "package: the UI (ui/dist, embedded by the app)"
  (cd "$REPO/ui" && npm run build >/dev/null)
  section "package: cargo build --release (app, CLI, fingerprint helper)"
  # --workspace --bins: the same feature set as the other builds (a -p build
  # resolves others and rebuilds the heavy dependencies from scratch).
  (cd "$REPO" && cargo build --locked --release --workspace --bins)
fi
BINDIR="$CARGO_TARGET_DIR/release"
for name in "${BINS[@]}"; do
  [ -x "$BINDIR/$name" ] || die "$BINDIR/$name is missing: build it (scripts/package.sh without --no-build)"
done

section "package: staging, models checked"
OUT="$CARGO_TARGET_DIR/deb"
ROOT="$OUT/countersign_${VERSION}_amd64"
mkdir -p "$OUT"
stage "$ROOT" "$BINDIR"
for path in "${!BINS[@]}"; do
  strip --strip-unneeded "$ROOT/$path"
done
check_layout "$ROOT"

section "package: dependencies (dpkg-shlibdeps)"
# dpkg-shlibdeps wants a debian/control beside it: a scratch one.
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
mkdir -p "$scratch/debian"
printf 'Source: countersign\n\nPackage: countersign\nArchitecture: amd64\n' >"$scratch/debian/control"
bins=()
for path in "${!BINS[@]}"; do bins+=("$ROOT/$path"); done
depends="$(cd "$scratch" && dpkg-shlibdeps -O "${bins[@]}" 2>"$scratch/shlibdeps.err" |
  sed -n 's/^shlibs:Depends=//p')" || {
  cat "$scratch/shlibdeps.err" >&2
  die "dpkg-shlibdeps failed"
}
[ -n "$depends" ] || die "dpkg-shlibdeps found no dependencies"
# The maintainer scripts' tools (useradd, runuser) are in required packages.
depends="$depends, passwd, util-linux"
if printf '%s\n' "$depends" | tr ',' '\n' | grep -E -- '-dev( |$)'; then
  die "the package would depend on a -dev package: $depends"
fi
info "Depends: $depends"

section "package: control and maintainer scripts"
install -d -m 0755 "$ROOT/DEBIAN"
size_kib="$(du -sk --exclude=DEBIAN "$ROOT" | cut -f1)"
sed -e "s/@VERSION@/$VERSION/" -e "s/@SIZE@/$size_kib/" -e "s/@DEPENDS@/$depends/" \
  "$PKG/debian/control.in" >"$ROOT/DEBIAN/control"
for s in postinst prerm postrm; do
  install -m 0755 "$PKG/debian/$s" "$ROOT/DEBIAN/$s"
done
(cd "$ROOT" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z |
  xargs -0 md5sum >DEBIAN/md5sums)
chmod 0644 "$ROOT/DEBIAN/md5sums"

DEB="$OUT/countersign_${VERSION}_amd64.deb"
dpkg-deb --root-owner-group -Zxz --build "$ROOT" "$DEB" >/dev/null

section "package: check the .deb against packaging/layout.txt"
got="$(dpkg-deb --fsys-tarfile "$DEB" | tar -tvf - | awk '$1 !~ /^d/ { print $1, $6 }' |
  python3 -c '
import sys
for line in sys.stdin:
    perm, path = line.split()
    mode = 0
    for i, c in enumerate(perm[1:10]):
        if c != "-":
            mode |= 1 << (8 - i)
    print(f"{mode:04o} {path[2:]}")' | sort -k2)"
diff -u <(layout_spec) <(printf '%s\n' "$got") >&2 ||
  die "the .deb differs from packaging/layout.txt"
dpkg-deb --info "$DEB" | grep -E '^ (Package|Version|Depends|Recommends|Installed-Size):'
info "$DEB: $(du -h "$DEB" | cut -f1), built in $((SECONDS - started)) s"
