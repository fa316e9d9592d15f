#!/usr/bin/env bash
# Runs the fuzz targets (FUZZING.md), each for FUZZ_SECONDS (default 600 s,
# ten minutes), one after the other. Not part of CI or scripts/test.sh.
#   scripts/fuzz.sh                 every target, 10 minutes each
#   FUZZ_SECONDS=30 scripts/fuzz.sh a short run
#   scripts/fuzz.sh policy          only these
# FUZZ_SEED fixes the random seed (printed by every run, so a crash can be
# replayed); crashing inputs are written to target/fuzz-crashes/.
# Exits non-zero if any target found a crash.
set -euo pipefail
# shellcheck source=scripts/env.sh
. "$(dirname "$0")/env.sh"
cd "$REPO"

export FUZZ_SECONDS="${FUZZ_SECONDS:-600}"
export FUZZ_CRASH_DIR="${FUZZ_CRASH_DIR:-$REPO/target/fuzz-crashes}"
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(policy api ipc)
fi

status=0
for t in "${targets[@]}"; do
  case "$t" in
    policy) args=(-p countersign-core --test fuzz fuzz_policy_parser) ;;
    api) args=(-p countersign-api --test fuzz fuzz_api_request_bodies) ;;
    ipc) args=(-p countersign-app --test fuzz_ipc fuzz_ipc_arguments) ;;
    *) echo "unknown target $t (policy, api, ipc)" >&2; exit 2 ;;
  esac
  section "fuzz $t for ${FUZZ_SECONDS} s"
  if ! cargo test "${args[@]}" -- --ignored --exact --nocapture; then
    status=1
  fi
done
exit $status
