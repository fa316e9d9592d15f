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

# Free space, in GiB, on the filesystem that holds (or will hold) the path.
free_gib() {
  local p="$1"
  while [ ! -e "$p" ]; do p="$(dirname "$p")"; done
  df -Pk "$p" | awk 'NR == 2 { printf "%d", $4 / 1048576 }'
}

# A build and test run needs room for the debug build, the test binaries and the
# test suites' temporary data. Old builds accumulate in CARGO_TARGET_DIR (every
# changed test binary keeps its old copy), so when space runs short the stale
# parts go first, then the whole debug build; only then is it an error, with the
# numbers, rather than a "No space left on device" halfway through a link.
ensure_disk_space() {
  local need="$1" free
  free="$(free_gib "$CARGO_TARGET_DIR")"
  [ "$free" -ge "$need" ] && return 0
  warn "only ${free} GiB free for $CARGO_TARGET_DIR (need ${need}); removing incremental caches"
  rm -rf "$CARGO_TARGET_DIR"/debug/incremental "$CARGO_TARGET_DIR"/release/incremental
  free="$(free_gib "$CARGO_TARGET_DIR")"
  [ "$free" -ge "$need" ] && return 0
  warn "still ${free} GiB free; removing the earlier debug build (it will be rebuilt)"
  rm -rf "$CARGO_TARGET_DIR"/debug
  free="$(free_gib "$CARGO_TARGET_DIR")"
  [ "$free" -ge "$need" ] && return 0
  die "only ${free} GiB free on the disk holding $CARGO_TARGET_DIR; building and testing needs about ${need} GiB (set CARGO_TARGET_DIR elsewhere or free space)"
}
