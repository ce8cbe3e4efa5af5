"""Benchmark suite of the LiRA workflow: training efficiency, scoring against the per-example
reference algorithm, and pipeline overhead. Run `python -m benchmarks` (or `make bench`)."""
