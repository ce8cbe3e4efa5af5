"""Reading and writing artifacts (numpy only). Every write is atomic: the data goes to a
temporary file in the destination folder, which is renamed over the destination only when it is
complete, so a killed job never leaves a half-written file that a later step could take for done."""

from __future__ import annotations

import json
import logging
import os
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

import numpy as np

_UMASK = os.umask(0)
os.umask(_UMASK)


@contextmanager
def atomic_path(path):
    """Yield a temporary path next to `path`; rename it to `path` if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    os.close(handle)
    os.chmod(temporary, 0o666 & ~_UMASK)  # mkstemp makes 0600; outputs should be as readable as any file
    try:
        yield Path(temporary)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def atomic_rename(temporary, path) -> None:
    """Move a finished file into place (same folder: an atomic rename)."""
    os.replace(temporary, path)


@contextmanager
def atomic_memmaps(paths: dict, dtype, shape: tuple):
    """Yield {name: a writable .npy memory map of `dtype` and `shape`} for `paths` (name -> path),
    each in a `<path>.part.npy` file beside its path; when the block succeeds they are flushed and
    renamed into place, and when it fails they are removed. Arrays larger than memory are written
    this way without ever being held whole."""
    parts = {name: Path(f"{path}.part.npy") for name, path in paths.items()}
    try:
        maps = {}
        for name, part in parts.items():
            part.parent.mkdir(parents=True, exist_ok=True)
            maps[name] = np.lib.format.open_memmap(part, "w+", dtype, shape)
        yield maps
        for stack in maps.values():
            stack.flush()
        for name, part in parts.items():
            atomic_rename(part, paths[name])
    finally:
        for part in parts.values():
            part.unlink(missing_ok=True)


def save_arrays(path, **arrays) -> None:
    """Save named arrays as an uncompressed .npz (fast to read, and safe: no pickles)."""
    with atomic_path(path) as temporary:
        with open(temporary, "wb") as handle:
            np.savez(handle, **arrays)


def load_arrays(path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as data:
        return {key: data[key] for key in data.files}


def save_array(path, array: np.ndarray) -> None:
    with atomic_path(path) as temporary:
        with open(temporary, "wb") as handle:
            np.save(handle, array, allow_pickle=False)


def load_array(path) -> np.ndarray:
    return np.load(path, allow_pickle=False)


def write_text(path, text: str) -> None:
    with atomic_path(path) as temporary:
        Path(temporary).write_text(text)


def write_json(path, value) -> None:
    write_text(path, json.dumps(value, indent=2, sort_keys=True) + "\n")


def nan_to_none(value):
    """JSON has no NaN: write None (null) for NaN floats, recursively."""
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, dict):
        return {key: nan_to_none(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [nan_to_none(item) for item in value]
    return value


def read_json(path):
    return json.loads(Path(path).read_text())


# The level of the few lines a job shows in the terminal (one per finished block of models);
# everything at INFO goes to the job's log file only, so parallel jobs don't flood the terminal.
ANNOUNCE = 25
logging.addLevelName(ANNOUNCE, "DONE")


def announce(log: logging.Logger, message: str, *args) -> None:
    """Log a line that also shows in the terminal (stderr), not only in the job's log file."""
    log.log(ANNOUNCE, message, *args)


def job_logger(log_path, name: str = "lira") -> logging.Logger:
    """A logger that writes everything to the job's log file (Snakemake's `log:`) and, on stderr,
    only announce() lines, warnings and errors.

    An exception that ends the job is logged too, so the job's log says why it failed (Snakemake
    shows only stderr), with the error's own message as the last line."""
    logger = logging.getLogger(name)
    logger.setLevel(logging.INFO)
    logger.handlers.clear()
    file_handler = logging.FileHandler(log_path, mode="w")
    file_handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    terminal_handler = logging.StreamHandler()
    terminal_handler.setLevel(ANNOUNCE)
    terminal_handler.setFormatter(logging.Formatter("%(message)s"))
    for handler in (file_handler, terminal_handler):
        logger.addHandler(handler)

    def log_failure(kind, error, trace):
        if not issubclass(kind, KeyboardInterrupt):
            logger.removeHandler(file_handler)  # the traceback once on stderr, by the default hook
            file_handler.handle(
                logger.makeRecord(name, logging.ERROR, "", 0, "job failed", None, (kind, error, trace))
            )
            file_handler.handle(logger.makeRecord(name, logging.ERROR, "", 0, "%s: %s", (kind.__name__, error), None))
        sys.__excepthook__(kind, error, trace)

    sys.excepthook = log_failure
    return logger
