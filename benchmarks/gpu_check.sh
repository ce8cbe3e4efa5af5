#!/usr/bin/env bash
# The GPU check (issue 16; docs/performance.md, "GPU check"): one bounded run, < 8 min on an H100.
#   bash benchmarks/gpu_check.sh [--csv FILE] [--out FOLDER] [--budget-minutes 7]
#   bash benchmarks/gpu_check.sh --device cpu --quick     # the same code on a CPU, tiny sizes
# Python: the project's .venv if there is one, else python3 (a GPU machine's image). Snakemake and
# jsonschema, where that Python lacks them, come from wheels in .whl/ (benchmarks/gpu_wheels.sh
# downloads them on a machine with network access; carry .whl to the GPU machine).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=.venv/bin/python
[ -x "$PYTHON" ] || PYTHON=python3
if ! "$PYTHON" -c "import snakemake, jsonschema" 2>/dev/null; then
    if compgen -G ".whl/*.whl" >/dev/null; then
        "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/lira-site .whl/*.whl
        export PYTHONPATH="/tmp/lira-site${PYTHONPATH:+:$PYTHONPATH}"
    else
        echo "gpu_check: $PYTHON has no snakemake and there is no .whl/ folder (run benchmarks/gpu_wheels.sh where pip has network)" >&2
    fi
fi
export PYTHONPATH="$PWD/src:$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
exec "$PYTHON" -m benchmarks.gpu_check "$@"
