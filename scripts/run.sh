#!/usr/bin/env bash
# Installs what is missing, builds, initialises a demo data directory if there
# is none, and opens the Countersign window.
#
#   ./scripts/run.sh            normal window
#   ./scripts/run.sh --kiosk    kiosk mode (fullscreen, undecorated, no close)
#
# DATA (default: <repo>/.data) is the data directory the app uses.
# Without a display it runs under Xvfb (xvfb-run), which is only useful to see
# that it starts.
set -euo pipefail
# shellcheck source=scripts/env.sh
. "$(dirname "$0")/env.sh"

kiosk=0
for arg in "$@"; do
  case "$arg" in
    --kiosk) kiosk=1 ;;
    -h | --help)
      sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    *) die "unknown argument: $arg (try --help)" ;;
  esac
done

DATA="${DATA:-$REPO/.data}"

bash "$REPO/scripts/setup.sh"

section "build: UI"
(cd "$REPO/ui" && npm run build)

section "build: Rust (countersign CLI and app)"
cd "$REPO"
ensure_disk_space 6
cargo build -p countersign-cli -p countersign-app

section "data directory: $DATA"
# `countersign init --demo --if-missing` creates the data directory with the
# kiosk's keys, the default policy and the demo people, and leaves an
# existing one alone. `--demo-faces` enrolls Olga's face from public-domain
# photos (witnessed by the demo supervisor Sue) and installs the replay
# camera's scenes (genuine, impostor, still photo) into $DATA/replay: the
# app uses them when no camera is attached. `--demo-fingers` enrolls Otto's
# right index finger on libfprint's virtual reader from synthetic prints and
# writes the app's demo impressions into $DATA/fingers.
"$CARGO_TARGET_DIR/debug/countersign" --data-dir "$DATA" init --demo --if-missing \
  --demo-faces "$REPO/assets/demo/faces" --demo-fingers

section "launch: countersign-app"
export COUNTERSIGN_DATA_DIR="$DATA"
if [ "$kiosk" = 1 ]; then
  export COUNTERSIGN_KIOSK=1
  info "kiosk mode: fullscreen, always on top, closing disabled (stop it with Ctrl+C here)"
fi
app="$CARGO_TARGET_DIR/debug/countersign-app"
if [ -n "${DISPLAY:-}" ] || [ -n "${WAYLAND_DISPLAY:-}" ]; then
  exec "$app"
else
  info "no DISPLAY: running under a virtual X server (xvfb-run -a); nothing will be visible"
  exec xvfb-run -a "$app"
fi
