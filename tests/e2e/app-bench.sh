#!/usr/bin/env bash
# Benchmarks of the real app window (BENCHMARKS.md, "Desktop app"):
#   cold start to interactive: from the WebDriver session request (tauri-driver
#     launches the app) until the operator screen's "Start step-up" button is
#     displayed and enabled in the webview;
#   idle RSS: 10 s later, the resident memory of countersign-app and of the
#     WebKit processes it started (web content, network), summed.
# RUNS (default 5) cold starts over a demo data dir; prints each and the median.
set -euo pipefail
# shellcheck source=scripts/env.sh
. "$(dirname "$0")/../../scripts/env.sh"
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
APP="${APP:-$CARGO_TARGET_DIR/debug/countersign-app}"
CLI="${CLI:-$CARGO_TARGET_DIR/debug/countersign}"
RUNS="${RUNS:-5}"
PORT="${E2E_DRIVER_PORT:-4446}"
PATH="$HOME/.cargo/bin:$PATH"
export WEBKIT_DISABLE_COMPOSITING_MODE=1 WEBKIT_DISABLE_DMABUF_RENDERER=1 LIBGL_ALWAYS_SOFTWARE=1

tmp="$(mktemp -d "${TMPDIR:-/tmp}/countersign-bench.XXXXXX")"
# The kiosk's local anchor lives outside the data dir: keep it in the temp dir too.
export COUNTERSIGN_STATE_DIR="$tmp/state"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT

"$CLI" --data-dir "$tmp/data" init --demo --demo-faces "$ROOT/assets/demo/faces" >/dev/null
Xvfb -displayfd 5 -screen 0 1280x900x24 -nolisten tcp 5>"$tmp/display" >/dev/null 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do [ -s "$tmp/display" ] && break; sleep 0.1; done
export DISPLAY=":$(head -n 1 "$tmp/display")"
openbox >/dev/null 2>&1 &
pids+=($!)
COUNTERSIGN_DATA_DIR="$tmp/data" tauri-driver --port "$PORT" --native-port "$((PORT + 1))" >"$tmp/driver.log" 2>&1 &
pids+=($!)

rss_kib() { # the app and every descendant process
  local total=0 p
  for p in $(pgrep -f "$APP" || true) $(pgrep -f WebKitWebProcess || true) $(pgrep -f WebKitNetworkProcess || true); do
    total=$((total + $(awk '/^VmRSS/ {print $2}' "/proc/$p/status" 2>/dev/null || echo 0)))
  done
  echo "$total"
}

starts=()
rsss=()
for i in $(seq 1 "$RUNS"); do
  log="$tmp/run-$i.log"
  ONLY_START=1 IDLE_MS=12000 DRIVER="http://127.0.0.1:$PORT" APP="$APP" \
    node "$(dirname "$0")/journey.mjs" >"$log" 2>&1 &
  node_pid=$!
  until grep -q '^interactive_ms=' "$log" 2>/dev/null; do
    kill -0 "$node_pid" 2>/dev/null || { cat "$log" >&2; die "run $i failed"; }
    sleep 0.2
  done
  sleep 8 # idle: nothing on screen changes but the preview-less start screen
  rss="$(rss_kib)"
  wait "$node_pid"
  ms="$(sed -n 's/^interactive_ms=//p' "$log")"
  starts+=("$ms")
  rsss+=("$rss")
  echo "run $i: interactive after $ms ms, idle RSS $((rss / 1024)) MiB (app + WebKit processes)"
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo "cold start to interactive: median $(median "${starts[@]}") ms over $RUNS runs"
echo "idle RSS: median $(($(median "${rsss[@]}") / 1024)) MiB"
