#!/usr/bin/env bash
# Wheels of Snakemake (the project's pin) and its needs for a GPU machine without network access
# whose image has Python 3.12 and torch but no Snakemake: into .whl/ (git ignores it),
# about 28 MB. benchmarks/gpu_check.sh installs them there when needed.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
mkdir -p .whl
# .whl/ is in .gitignore: the device tool carries it when asked (carry: [".whl"]).
# connection_pool 0.0.3 is published as a source archive only: built here (pure Python).
"$PYTHON" -m pip wheel -q --no-deps connection_pool==0.0.3 -w .whl
"$PYTHON" -m pip download -q --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform any \
    --find-links .whl -d .whl snakemake==9.27.1 jsonschema
du -sh .whl
