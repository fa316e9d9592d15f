# Shared environment for the scripts in this folder. Source it, don't run it.
# shellcheck shell=bash

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export REPO

# Cargo builds go to a folder outside the clone so that CI (a fresh clone on the
# same machine) reuses earlier builds; a fresh machine simply builds from nothing.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/countersign-target}"

# Rust installed with rustup lives in ~/.cargo/bin, which a non-login shell may miss.
if ! command -v cargo >/dev/null 2>&1 && [ -x "${HOME:-/root}/.cargo/bin/cargo" ]; then
  export PATH="${HOME:-/root}/.cargo/bin:$PATH"
fi

# WebKitGTK under Xvfb or in a VM without GPU: the DMA-BUF renderer leaves the
# window blank. Callers may override.
export WEBKIT_DISABLE_DMABUF_RENDERER="${WEBKIT_DISABLE_DMABUF_RENDERER:-1}"

# Never prompt (CI has no stdin).
export DEBIAN_FRONTEND=noninteractive
export npm_config_fund=false
export npm_config_audit=false
export npm_config_update_notifier=false

section() {
  printf '\n==> %s\n' "$*"
}

info() {
  printf '    %s\n' "$*"
}

warn() {
  printf 'warning: %s\n' "$*" >&2
}

die() {
  printf 'error: %s\n' "$*" >&2
  exit 1
}
