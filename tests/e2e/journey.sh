#!/usr/bin/env bash
# End to end on the real app window: Xvfb + openbox + tauri-driver +
# WebKitWebDriver drive countersign-app (windowed mode; kiosk mode refuses
# automation) over a fresh demo data dir with the demo enrollment and replay
# scenes. tests/e2e/journey.mjs walks the operator, supervisor and reviewer
# journeys; afterwards this script reads the ledger with the CLI and checks
# the evidence of every step.
#
# APP, CLI override the binaries (default: $CARGO_TARGET_DIR/debug/...).
# SHOTS=DIR puts the screenshots of each screen there, at the four kiosk
# sizes too (default: docs/screenshots, the ones README shows).
# KEEP_TMP=1 keeps the temp dir (logs, data dir) and prints its path.
set -euo pipefail
# shellcheck source=scripts/env.sh
. "$(dirname "$0")/../../scripts/env.sh"
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"

APP="${APP:-$CARGO_TARGET_DIR/debug/countersign-app}"
CLI="${CLI:-$CARGO_TARGET_DIR/debug/countersign}"
PORT="${E2E_DRIVER_PORT:-4444}"

export WEBKIT_DISABLE_COMPOSITING_MODE="${WEBKIT_DISABLE_COMPOSITING_MODE:-1}"
export WEBKIT_DISABLE_DMABUF_RENDERER="${WEBKIT_DISABLE_DMABUF_RENDERER:-1}"
export LIBGL_ALWAYS_SOFTWARE="${LIBGL_ALWAYS_SOFTWARE:-1}"

PATH="$HOME/.cargo/bin:$PATH"
for tool in Xvfb openbox tauri-driver WebKitWebDriver node xdotool import; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool not found: run scripts/setup.sh"
done
[ -x "$APP" ] || die "app binary not found: $APP (cargo build -p countersign-app)"
[ -x "$CLI" ] || die "CLI binary not found: $CLI (cargo build -p countersign-cli)"

tmp="$(mktemp -d "${TMPDIR:-/tmp}/countersign-e2e.XXXXXX")"
# The kiosk's local anchor lives outside the data dir: keep it in the temp dir too.
export COUNTERSIGN_STATE_DIR="$tmp/state"
pids=()
cleanup() {
  local status=$?
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [ "${KEEP_TMP:-0}" = 1 ] || [ "$status" -ne 0 ]; then
    echo "e2e journey: artefacts kept in $tmp" >&2
    if [ "$status" -ne 0 ]; then
      for f in driver.log; do
        [ -f "$tmp/$f" ] && { echo "--- $f (last 40 lines)" >&2; tail -n 40 "$tmp/$f" >&2; }
      done
    fi
  else
    rm -rf "$tmp"
  fi
  exit "$status"
}
trap cleanup EXIT
fail() {
  echo "e2e journey: FAIL: $*" >&2
  exit 1
}

section "e2e journey: demo data dir with the demo enrollment"
data="$tmp/data"
"$CLI" --data-dir "$data" init --demo --demo-faces "$ROOT/assets/demo/faces" --demo-fingers | sed 's/^/  /'

section "e2e journey: Xvfb, openbox, tauri-driver"
Xvfb -displayfd 5 -screen 0 1920x1200x24 -nolisten tcp 5>"$tmp/display" >"$tmp/xvfb.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do
  [ -s "$tmp/display" ] && break
  sleep 0.1
done
[ -s "$tmp/display" ] || fail "Xvfb did not start: $(cat "$tmp/xvfb.log")"
export DISPLAY=":$(head -n 1 "$tmp/display")"
openbox >"$tmp/openbox.log" 2>&1 &
pids+=($!)
# tauri-driver starts the app with this environment.
COUNTERSIGN_DATA_DIR="$data" tauri-driver --port "$PORT" --native-port "$((PORT + 1))" >"$tmp/driver.log" 2>&1 &
pids+=($!)

section "e2e journey: the journeys in the window"
DRIVER="http://127.0.0.1:$PORT" APP="$APP" SHOTS="${SHOTS:-$ROOT/docs/screenshots}" node "$(dirname "$0")/journey.mjs"

section "e2e journey: the ledger holds the evidence"
log() { "$CLI" --data-dir "$data" "$@"; }
out="$(log log verify)" || fail "log verify failed: $out"
echo "  $out"
events="$(log log export --format jsonl)"
count() { printf '%s\n' "$events" | grep -c "\"kind\":\"$1\"" || true; }
expect_at_least() {
  local n
  n="$(count "$1")"
  [ "$n" -ge "$2" ] || fail "expected at least $2 $1 events, found $n"
  echo "  $1: $n"
}
expect_at_least match.attempt 7
# `grep -q` would stop reading early and, under pipefail, fail the pipe with
# SIGPIPE on a large export: the checks read all input (`>/dev/null`).
expect_at_least stepup.succeeded 1
expect_at_least fallback.triggered 1
expect_at_least supervisor.auth 1
expect_at_least override.granted 1
expect_at_least override.expired 1
expect_at_least override.reviewed 1
expect_at_least console.signed_in 2
# The window's IPC calls without a session and with the wrong role.
for code in console.no_session console.wrong_role; do
  n="$(printf '%s\n' "$events" | grep '"kind":"console.refused"' | grep -c "\"code\":\"$code\"" || true)"
  [ "$n" -ge 2 ] || fail "expected at least 2 console.refused events with $code, found $n"
  echo "  console.refused $code: $n"
done
# The admin's acts in the window: signed by ada, the secret in no event.
printf '%s\n' "$events" | grep '"kind":"person.added"' | grep '"id":"erin"' | grep '"by":"ada"' >/dev/null \
  || fail "no person.added event for erin by ada"
printf '%s\n' "$events" | grep '"kind":"person.credentials_set"' | grep '"id":"erin"' | grep '"by":"ada"' >/dev/null \
  || fail "no person.credentials_set event for erin by ada"
echo "  admin acts: person.added, person.credentials_set (erin, by ada)"
printf '%s\n' "$events" | grep '"kind":"match.attempt"' | grep '"replay":true' >/dev/null \
  || fail "the attempts' evidence does not say the frames were a replay"
printf '%s\n' "$events" | grep '"kind":"match.attempt"' | grep '"amr":\["fpt"\]' | grep '"driver":"virtual_image"' >/dev/null \
  || fail "no fingerprint attempt on the virtual reader in the evidence"
printf '%s\n' "$events" | grep '"kind":"override.granted"' | grep 'payments held for call-back' >/dev/null \
  || fail "the grant's evidence lacks its compensating control"
echo "e2e journey: PASS (face and finger step-ups, fallback, override, expiry, review; ledger verified)"

section "e2e journey: a clock set back is said on screen (issue 13, item 7)"
# One step-up under a clock an hour ahead (libfaketime), then the window under
# the real clock: the ledger's newest event is an hour in its future.
faketime_lib="$(find /usr/lib -name libfaketime.so.1 -path '*faketime*' 2>/dev/null | head -n 1)"
[ -n "$faketime_lib" ] || fail "libfaketime not found: run scripts/setup.sh"
LD_PRELOAD="$faketime_lib" FAKETIME="+3600s" \
  "$CLI" --data-dir "$data" stepup --operator olga --scope payments.approve --test-scores 0.99 >/dev/null \
  || fail "the step-up under a clock an hour ahead failed"
before="$(log log export --format jsonl | grep -c '"kind":"clock.behind_ledger"' || true)"
DRIVER="http://127.0.0.1:$PORT" APP="$APP" SHOTS="${SHOTS:-}" ONLY_CLOCK=1 node "$(dirname "$0")/journey.mjs"
status_out="$(log status 2>&1)" && fail "status did not refuse under the clock set back: $status_out"
printf '%s\n' "$status_out" | grep -q 'BEHIND THE LEDGER' || fail "status does not say the clock is behind: $status_out"
after="$(log log export --format jsonl | grep -c '"kind":"clock.behind_ledger"' || true)"
[ "$after" -gt "$before" ] || fail "the window's refused step-up was not recorded ($before -> $after)"
echo "  clock.behind_ledger: $before -> $after; status: BEHIND THE LEDGER"
echo "e2e journey: PASS (clock set back: shown, refused, recorded)"
