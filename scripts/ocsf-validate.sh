#!/usr/bin/env bash
# Validates OCSF records (JSON lines) with an independent validator from PyPI:
# ocsf-emitter 0.3.0 (OCSF 1.5.0; pydantic models of every class plus the
# schema's invariants: class and category identity, type_uid, the sibling
# names, the schema version). Installed once into its own venv under the
# cargo target dir. Prints one line per invalid record and a summary; exits
# 1 when any record is invalid.
#   scripts/ocsf-validate.sh FILE...
set -euo pipefail
[ "$#" -ge 1 ] || { echo "usage: $0 FILE..." >&2; exit 2; }
REPO="$(cd "$(dirname "$0")/.." && pwd)"
VENV="${OCSF_VENV:-${CARGO_TARGET_DIR:-$REPO/target}/ocsf-venv}"
PIN="ocsf-emitter==0.3.0"
if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -m pip show ocsf-emitter 2>/dev/null | grep -q '^Version: 0.3.0$'; then
  exec "$VENV/bin/python" "$REPO/scripts/ocsf_validate.py" "$@"
fi
if python3 -m venv "$VENV" >&2 2>/dev/null; then
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "$PIN" >&2
  exec "$VENV/bin/python" "$REPO/scripts/ocsf_validate.py" "$@"
fi
# A python3 without the venv module (Debian without python3-venv): the
# same pinned package into a folder of its own instead.
LIB="$VENV-lib"
[ -d "$LIB/ocsf_emitter" ] || python3 -m pip install --quiet --disable-pip-version-check --target "$LIB" "$PIN" >&2
PYTHONPATH="$LIB" exec python3 "$REPO/scripts/ocsf_validate.py" "$@"
