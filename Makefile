# Set-up, the default experiment, and the tests. `make run` and `make test` are all a user needs.
VENV ?= .venv
CORES ?= 2
PYTHON := $(VENV)/bin/python
FASHION_MNIST := /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: setup dataset run dry-run plan slurm test lint format clean-results

# The project virtualenv: torch and torchvision pinned (this pair installs from local disk on
# our machines; torchvision only imports beside its own torch), then the package and its tools.
$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --upgrade pip
	$(PYTHON) -m pip install --quiet torch==2.14.1 torchvision==0.29.1
	$(PYTHON) -m pip install --quiet -e '.[torch,workflow,test]'
	touch $@

# Fashion-MNIST from Debian (31 MB) when it is not there yet and apt can be used.
dataset:
	@if [ -f $(FASHION_MNIST) ]; then echo "Fashion-MNIST: $(dir $(FASHION_MNIST))"; \
	elif command -v apt-get >/dev/null; then $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq dataset-fashion-mnist; \
	else echo "Fashion-MNIST missing and no apt-get: set data.directory (or data.download) in config.yaml" >&2; fi

setup: $(VENV)/.installed dataset

# The default experiment: results/fmnist-cnn/{metrics.md,figures/roc.png,...}.
run: setup
	$(VENV)/bin/snakemake --cores $(CORES)

# What would run, without running it.
dry-run: $(VENV)/.installed
	$(VENV)/bin/snakemake --cores $(CORES) --dry-run

# Jobs per rule (all, done, to run) and an estimate of device-hours and disk for a config:
# `make plan CONFIG=config/cifar10.yaml DEVICES=8`. See docs/cluster.md.
CONFIG ?= config.yaml
DEVICES ?= 1
plan: $(VENV)/.installed
	$(PYTHON) -m lira.tools.plan --configfile $(CONFIG) --devices $(DEVICES)

# Debian's SLURM and munge, for tests/end_to_end/test_slurm.py, which starts a throw-away single-node cluster
# (and stops it). Needs root or sudo, and apt; without them that test is skipped.
slurm:
	@if command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v munged >/dev/null; then echo "SLURM: installed"; \
	elif command -v apt-get >/dev/null; then $(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge; \
	else echo "no apt-get: install slurm-wlm and munge to run tests/end_to_end/test_slurm.py" >&2; fi

# The whole suite, real Snakemake runs and the SLURM cluster included (tests/end_to_end, and the
# tests marked `workflow`).
test: $(VENV)/.installed
	$(VENV)/bin/pytest -q

# Everything but the real Snakemake runs: about a minute on 2 cores.
.PHONY: test-fast
test-fast: $(VENV)/.installed
	$(VENV)/bin/pytest -q -m "not workflow" --ignore=tests/end_to_end

lint: $(VENV)/.installed
	$(VENV)/bin/snakemake --lint
	$(VENV)/bin/snakefmt --check Snakefile rules/

# The benchmark suite (docs/performance.md): training efficiency, scoring against the per-example
# reference algorithm, and the pipeline overhead of the finished default run in results/.
# Ends within --budget-minutes (default 10) on any machine, skipping with a reason what does not fit;
# e.g. `make bench BENCH_ARGS="--results /path/to/results/fmnist-cnn --budget-minutes 5"`.
.PHONY: bench
bench: $(VENV)/.installed
	$(PYTHON) -m benchmarks $(BENCH_ARGS)
