#!/usr/bin/env bash
# Makes an upgrade fixture: a small data dir (and its state dir, the local
# anchor) written by one build of `countersign`, to be committed under
# crates/cli/tests/fixtures/upgrade/<name>/ and opened by every later build
# (crates/cli/tests/it/upgrade.rs).
#
#   FIXTURE_COMMIT=<commit> scripts/deb-upgrade-fixture.sh BIN OUT
#
# BIN is the `countersign` binary of the release being frozen (build it from
# that commit), OUT a directory that must not exist yet. The ledger holds a
# witnessed face enrollment from real photos (sealed blobs: the template and
# the captures), a step-up that ends in the supervised fallback, a grant by a
# supervisor and a review. Demo data dir: its keys and credentials are the
# published demo ones, never anything real.
set -euo pipefail
# shellcheck source=scripts/env.sh
. "$(dirname "${BASH_SOURCE[0]}")/env.sh"

[ $# -eq 2 ] || die "usage: $0 BIN OUT"
bin="$(realpath "$1")"
out="$2"
[ -x "$bin" ] || die "$bin is not executable"
[ ! -e "$out" ] || die "$out exists"
mkdir -p "$out"
out="$(realpath "$out")"

export COUNTERSIGN_STATE_DIR="$out/state"
unset COUNTERSIGN_DATA_DIR COUNTERSIGN_SECRET
cs() { "$bin" --data-dir "$out/data" "$@"; }
code() { "$bin" totp "$1" | tail -n 1; }
# The matcher's test photos at a quarter of their size (libjpeg-turbo-progs):
# the sealed captures are PNG frames, and full-size ones make a 6 MB ledger.
if ! command -v djpeg >/dev/null || ! command -v cjpeg >/dev/null; then
  die "djpeg and cjpeg are needed (apt-get install libjpeg-turbo-progs)"
fi
photos="$(mktemp -d)"
trap 'rm -rf "$photos"' EXIT
for p in obama obama3; do
  djpeg -scale 1/4 "$REPO/crates/matcher/tests/fixtures/$p.jpg" | cjpeg -quality 90 >"$photos/$p.jpg"
done

# The demo people's published TOTP secrets (README, crates/engine/src/datadir.rs).
SAM=MNXXK3TUMVZHG2LHNYWWIYLN
SUE=MNXXK3TUMVZHG2LHNYWXG5LF
RITA=MNXXK3TUMVZHG2LHNYWXE2LU

section "fixture: init --demo with $("$bin" --version)"
cs init --demo

section "fixture: olga's face, witnessed by sam (sealed template and captures)"
COUNTERSIGN_SECRET=sam-demo-pass cs enroll olga --witness sam --otp "$(code $SAM)" \
  --replay "$photos/obama.jpg,$photos/obama3.jpg" --captures 2 --replay-fps 0

section "fixture: five failed matches, the fallback"
set +e
so="$(cs stepup --operator olga --scope payments.approve --test-scores 0.1,0.1,0.1,0.1,0.1)"
rc=$?
set -e
printf '%s\n' "$so"
[ "$rc" -eq 3 ] || die "the step-up should end in the fallback (exit 3), got $rc"
sid="$(printf '%s\n' "$so" | head -n 1 | awk '{ print $2 }')"
case "$sid" in stp-*) ;; *) die "no session id in the step-up's output" ;; esac

section "fixture: sue grants for 2 s, rita reviews once it has expired"
go="$(COUNTERSIGN_SECRET=sue-demo-pass cs override grant --session "$sid" --supervisor sue \
  --otp "$(code $SUE)" --duration 2s --reason SENSOR_FAULT --note "camera fogged" \
  --control "second person watched")"
printf '%s\n' "$go"
sleep 3
oid="$(printf '%s\n' "$go" | awk '/^override .* granted by / { print $2; exit }')"
[ -n "$oid" ] || die "no override id in the grant's output"
COUNTERSIGN_SECRET=rita-demo-pass cs review "$oid" --reviewer rita --otp "$(code $RITA)" \
  --disposition justified --notes "checked with the operator"

section "fixture: verify"
cs log verify
# The WAL folded into ledger.db: the fixture is one file per database.
if [ -e "$out/data/ledger.db-wal" ]; then
  sqlite3 "$out/data/ledger.db" 'PRAGMA wal_checkpoint(TRUNCATE);' >/dev/null
  rm -f "$out/data/ledger.db-wal" "$out/data/ledger.db-shm"
fi
rm -f "$out"/state/*/.lock
# What the test checks the upgraded ledger against: the last event the old
# build wrote (the chain then proves every event before it unchanged).
last="$(cs log export --format jsonl | tail -n 1)"
{
  echo "made_with: $("$bin" --version)${FIXTURE_COMMIT:+ (commit $FIXTURE_COMMIT)}"
  echo "made_at: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  printf '%s\n' "$last" | python3 -c 'import json, sys; e = json.load(sys.stdin); print("head_seq:", e["seq"]); print("head_hash:", e["hash_hex"])'
  echo "kiosk: $(basename "$out"/state/kiosk-*)"
  echo "override: $oid"
  echo "blobs: 3"
} >"$out/FIXTURE"
cat "$out/FIXTURE"
du -sh "$out"
