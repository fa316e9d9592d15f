#!/usr/bin/env bash
# End-to-end smoke test of the real Countersign window, headless:
#   1. a kiosk-mode start with TAURI_WEBVIEW_AUTOMATION set is refused;
#   2. under Xvfb + openbox the app (kiosk mode, empty temp data dir) opens a
#      window titled "Countersign" that covers the whole screen;
#   3. the UI has painted: a screenshot of the screen is not uniform and shows
#      the UI's background colour (so the embedded CSS loaded under the CSP);
#   4. closing the window (Alt+F4 through the window manager) is refused.
#
# APP overrides the binary (default: $CARGO_TARGET_DIR/debug/countersign-app).
# KEEP_TMP=1 keeps the temp dir (screenshots, logs) and prints its path.
set -euo pipefail
# shellcheck source=scripts/env.sh
. "$(dirname "$0")/../../scripts/env.sh"

APP="${APP:-$CARGO_TARGET_DIR/debug/countersign-app}"
TIMEOUT="${SMOKE_TIMEOUT:-60}"
SCREEN_W=1280
SCREEN_H=800
# --bg in ui/src/app.css
UI_BG="srgb(15,23,42)"

# Software rendering: there is no GPU under Xvfb.
export WEBKIT_DISABLE_COMPOSITING_MODE="${WEBKIT_DISABLE_COMPOSITING_MODE:-1}"
export LIBGL_ALWAYS_SOFTWARE="${LIBGL_ALWAYS_SOFTWARE:-1}"

for tool in Xvfb openbox xdotool import convert; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool not found: run scripts/setup.sh"
done
[ -x "$APP" ] || die "app binary not found: $APP (cargo build -p countersign-app)"

tmp="$(mktemp -d "${TMPDIR:-/tmp}/countersign-smoke.XXXXXX")"
# The kiosk's local anchor lives outside the data dir: keep it in the temp dir too.
export COUNTERSIGN_STATE_DIR="$tmp/state"
pids=()
cleanup() {
  local status=$?
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  if [ "${KEEP_TMP:-0}" = 1 ] || [ "$status" -ne 0 ]; then
    echo "window-smoke: artefacts kept in $tmp" >&2
    if [ "$status" -ne 0 ] && [ -f "$tmp/app.log" ]; then
      echo "--- app.log (last 30 lines)" >&2
      tail -n 30 "$tmp/app.log" >&2 || true
    fi
  else
    rm -rf "$tmp"
  fi
  exit "$status"
}
trap cleanup EXIT

fail() {
  echo "window-smoke: FAIL: $*" >&2
  exit 1
}

section "window smoke: kiosk refuses WebDriver automation"
set +e
COUNTERSIGN_KIOSK=1 COUNTERSIGN_DATA_DIR="$tmp/data" TAURI_WEBVIEW_AUTOMATION=true DISPLAY= \
  timeout 20 "$APP" >"$tmp/refusal.log" 2>&1
code=$?
set -e
[ "$code" -eq 2 ] || fail "expected exit code 2, got $code: $(cat "$tmp/refusal.log")"
grep -q TAURI_WEBVIEW_AUTOMATION "$tmp/refusal.log" || fail "refusal message does not name the variable"
info "refused with exit code 2: $(head -n 1 "$tmp/refusal.log")"

section "window smoke: start Xvfb and openbox"
# -displayfd: Xvfb picks a free display number and writes it to fd 5.
Xvfb -displayfd 5 -screen 0 "${SCREEN_W}x${SCREEN_H}x24" -nolisten tcp 5>"$tmp/display" >"$tmp/xvfb.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do
  [ -s "$tmp/display" ] && break
  sleep 0.1
done
[ -s "$tmp/display" ] || fail "Xvfb did not start: $(cat "$tmp/xvfb.log")"
export DISPLAY=":$(head -n 1 "$tmp/display")"
info "DISPLAY=$DISPLAY"
openbox >"$tmp/openbox.log" 2>&1 &
pids+=($!)
# Wait until openbox manages the screen: a window mapped before it would keep
# its own size, whatever fullscreen state the app asked for.
for _ in $(seq 1 100); do
  xprop -root _NET_SUPPORTING_WM_CHECK 2>/dev/null | grep -q 'window id' && break
  sleep 0.1
done
xprop -root _NET_SUPPORTING_WM_CHECK 2>/dev/null | grep -q 'window id' \
  || fail "openbox did not start: $(cat "$tmp/openbox.log")"

section "window smoke: start countersign-app (kiosk mode)"
mkdir -p "$tmp/data"
COUNTERSIGN_KIOSK=1 COUNTERSIGN_DATA_DIR="$tmp/data" "$APP" >"$tmp/app.log" 2>&1 &
app_pid=$!
pids+=("$app_pid")

# Poll rather than `xdotool search --sync`, which can crash while GTK creates windows.
wid=""
started=$SECONDS
while [ $((SECONDS - started)) -lt "$TIMEOUT" ]; do
  kill -0 "$app_pid" 2>/dev/null || fail "app exited before opening its window"
  wid="$(xdotool search --name '^Countersign$' 2>/dev/null | head -n 1 || true)"
  [ -n "$wid" ] && break
  sleep 0.5
done
[ -n "$wid" ] || fail "no window titled Countersign after ${TIMEOUT}s"
info "window $wid after $((SECONDS - started))s"

section "window smoke: fullscreen and painted"
# Both are polled: the window manager may apply the fullscreen state a moment
# after the first paint (seen in CI: painted while still 1024x768).
shot="$tmp/shot.png"
painted=0
full=0
started=$SECONDS
while [ $((SECONDS - started)) -lt "$TIMEOUT" ]; do
  kill -0 "$app_pid" 2>/dev/null || fail "app exited while rendering"
  import -display "$DISPLAY" -window root "$shot"
  sd="$(convert "$shot" -format '%[fx:standard_deviation]' info:)"
  corner="$(convert "$shot" -format '%[pixel:p{3,3}]' info:)"
  painted=0
  if [ "$corner" = "$UI_BG" ] && awk -v sd="$sd" 'BEGIN { exit !(sd > 0.01) }'; then
    painted=1
  fi
  eval "$(xdotool getwindowgeometry --shell "$wid")"
  full=0
  # shellcheck disable=SC2153 # WIDTH and HEIGHT come from xdotool's output
  if [ "$WIDTH" -eq "$SCREEN_W" ] && [ "$HEIGHT" -eq "$SCREEN_H" ]; then
    full=1
  fi
  [ "$painted" = 1 ] && [ "$full" = 1 ] && break
  sleep 1
done
[ "$painted" = 1 ] || fail "screen not painted with the UI (corner $corner, standard deviation $sd)"
info "screenshot: corner $corner, standard deviation $sd"
[ "$full" = 1 ] \
  || fail "kiosk window is ${WIDTH}x${HEIGHT} after ${TIMEOUT}s, screen is ${SCREEN_W}x${SCREEN_H}"
info "window covers the screen: ${WIDTH}x${HEIGHT} after $((SECONDS - started))s"

section "window smoke: closing is refused"
xdotool windowactivate "$wid" 2>/dev/null || true
sleep 0.5
xdotool key --clearmodifiers alt+F4
sleep 2
kill -0 "$app_pid" 2>/dev/null || fail "app exited after Alt+F4"
xdotool search --name '^Countersign$' >/dev/null 2>&1 || fail "window gone after Alt+F4"
info "still open after Alt+F4"

kill "$app_pid"
echo "window-smoke: PASS (window opened, fullscreen, painted, close refused, automation refused)"
