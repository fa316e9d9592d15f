"""Validate OCSF JSON lines with ocsf-emitter (see ocsf-validate.sh)."""
import json
import sys

import ocsf_emitter
from ocsf_emitter import models


def main(paths):
    total = invalid = 0
    by_class = {}
    for path in paths:
        with open(path, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                if not line.strip():
                    continue
                total += 1
                rec = json.loads(line)
                kind = rec.get("unmapped", {}).get("kind", "?")
                spec = ocsf_emitter.class_spec_by_uid(rec.get("class_uid"))
                if spec is None:
                    invalid += 1
                    print(f"{path}:{n}: {kind}: class_uid {rec.get('class_uid')} is not an OCSF class")
                    continue
                by_class[spec.class_name] = by_class.get(spec.class_name, 0) + 1
                try:
                    ocsf_emitter.validate(getattr(models, spec.model_name).model_validate(rec))
                except Exception as e:  # the validator's report, whatever its type
                    invalid += 1
                    print(f"{path}:{n}: {kind}: " + " | ".join(str(e).splitlines()))
    classes = ", ".join(f"{k} {v}" for k, v in sorted(by_class.items()))
    print(f"ocsf {ocsf_emitter.OCSF_SCHEMA_VERSION}: {total} records, {invalid} invalid ({classes})")
    return 1 if invalid or total == 0 else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
