#!/usr/bin/env bash
# The face matcher's benchmark, side by side with its reference, in one run
# (BENCHMARKS.md, "Face matcher"): builds the release CLI, prepares the
# frames (the committed fixture photos fitted into 320x240 and 640x480, JPEG)
# and runs, in alternation, `countersign bench --face` (tract) and
# scripts/bench_face_ref.py (OpenCV + onnxruntime) on those frames and the
# same model files, with 1 and 2 threads, then prints one table.
#
#   scripts/bench-face.sh [OUT_DIR]
#
# Environment: BIN (a release `countersign` to use instead of building one),
# ROUNDS (alternations, default 3), REPEATS (passes over the
# frames per run, default 10), DECISIONS (camera-open → decision runs per
# Rust run, default 10), THREADS (default "1 2"), BENCH_VENV (the
# reference's venv, created when missing, default
# ~/.cache/countersign/bench-face-venv).
#
# Not part of the test suite: the tests never need the venv or PyPI.
set -euo pipefail
# shellcheck source=scripts/env.sh
. "$(dirname "$0")/env.sh"

ROUNDS="${ROUNDS:-3}"
REPEATS="${REPEATS:-10}"
DECISIONS="${DECISIONS:-10}"
THREADS="${THREADS:-1 2}"
BENCH_VENV="${BENCH_VENV:-${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/countersign/bench-face-venv}"
OUT="${1:-$(mktemp -d /tmp/countersign-bench-face.XXXXXX)}"
MODELS="${COUNTERSIGN_MODELS:-$REPO/assets/models}"
mkdir -p "$OUT"

section "bench-face: face models"
[ -f "$MODELS/face_detection_yunet_2023mar_int8bq.onnx" ] ||
  die "no face models in $MODELS: run scripts/setup.sh"

if [ -n "${BIN:-}" ]; then
  section "bench-face: using $BIN (no build)"
  cp "$BIN" "$OUT/countersign"
else
  section "bench-face: release build of the CLI"
  (cd "$REPO" && cargo build --release --locked -p countersign-cli)
  # The shared target dir is rebuilt by others: run a private copy.
  cp "$CARGO_TARGET_DIR/release/countersign" "$OUT/countersign"
fi

section "bench-face: reference venv ($BENCH_VENV)"
if [ ! -x "$BENCH_VENV/bin/python" ] ||
  ! "$BENCH_VENV/bin/python" -c 'import cv2, onnxruntime, onnx, numpy' 2>/dev/null; then
  python3 -m venv "$BENCH_VENV"
  "$BENCH_VENV/bin/pip" install -q opencv-python-headless==5.0.0.93 \
    onnxruntime==1.32.0 onnx==1.23.2 numpy==2.4.6
fi
PY="$BENCH_VENV/bin/python"
info "$("$PY" -c 'import cv2, onnxruntime; print("OpenCV", cv2.__version__, "/ onnxruntime", onnxruntime.__version__)')"

section "bench-face: machine"
info "$(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; $(uptime | sed 's/.*load average/load average/')"
info "$(date -u '+%Y-%m-%d %H:%M UTC')"

section "bench-face: runs (results in $OUT)"
for r in $(seq 1 "$ROUNDS"); do
  for t in $THREADS; do
    info "round $r, $t thread(s): tract"
    "$OUT/countersign" bench --face --frames "$OUT/frames" --models "$MODELS" \
      --threads "$t" --repeats "$REPEATS" --decisions "$DECISIONS" \
      --json-out "$OUT/rust-t$t-r$r.json" >"$OUT/rust-t$t-r$r.txt"
    info "round $r, $t thread(s): onnxruntime + OpenCV"
    "$PY" "$REPO/scripts/bench_face_ref.py" run --frames "$OUT/frames" \
      --threads "$t" --repeats "$REPEATS" --json-out "$OUT/ref-t$t-r$r.json"
  done
done
info "load afterwards: $(uptime | sed 's/.*load average/load average/')"

section "bench-face: table"
"$PY" "$REPO/scripts/bench_face_ref.py" table "$OUT"/rust-*.json "$OUT"/ref-*.json | tee "$OUT/table.md"
