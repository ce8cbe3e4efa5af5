"""A short calibration for lira.tools.plan: how long one epoch of the configured model takes here, and one
logits job, measured on random images of the dataset's shape (no data needed). Prints one JSON line.

    python -m lira.tools.calibrate --configfile config/cifar10.yaml [--steps 10]

A few training steps with the config's batch size, augmentation and model (after an untimed
warm-up step: allocation, cuDNN autotuning) give the seconds per step, times the steps of an
epoch; one inference batch (after a warm-up one) gives the seconds per image and query, times the
pool and the queries.
"""

from __future__ import annotations

import time

START = time.perf_counter()  # the start-up measured includes the imports below and torch's

import argparse  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

from lira.workflow.config import load_config  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lira.tools.calibrate", description=__doc__.split("\n\n")[0])
    parser.add_argument("--configfile", type=Path, action="append", default=[])
    parser.add_argument("--directory", type=Path, default=Path("."))
    parser.add_argument("--steps", type=int, default=10)
    args = parser.parse_args(argv)
    log = logging.getLogger("lira.tools.calibrate")
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(message)s")
    from lira.models.calibration import measure  # torch: imported only when measuring

    print(json.dumps(measure(load_config(args.directory, args.configfile), args.steps, log, START)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
