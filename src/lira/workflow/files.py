"""Reading and writing artifacts (numpy only). Every write is atomic: the data goes to a
temporary file in the destination folder, which is renamed over the destination only when it is
complete, so a killed job never leaves a half-written file that a later step could take for done.

A write that fails removes its temporary file, whatever the error; a full disk (or quota) is
reported as one DiskFullError, "no space left on device while writing <file>". Memory-mapped
files are allocated on disk before they are mapped (posix_fallocate), so that a full disk is that
error and not a SIGBUS when a page is written."""

from __future__ import annotations

import errno
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


class ReportedError(Exception):
    """An error whose message says all the user needs (the file, what is wrong, what to do): a job
    that ends with one shows it as one line on stderr, without a traceback (job_logger); the job's
    log keeps the traceback."""


class DiskFullError(ReportedError, OSError):
    """No space left on the device (or the quota) while writing an output."""


def _is_disk_full(error: OSError) -> bool:
    """ENOSPC or EDQUOT, or a short write without an errno (numpy's tofile reports a full disk as
    "N requested and M written")."""
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    return error.errno is None and " requested and " in str(error) and str(error).endswith(" written")


def disk_full_error(path, error: OSError) -> DiskFullError:
    return DiskFullError(f"no space left on device while writing {path} ({error.strerror or error})")


@contextmanager
def atomic_path(path):
    """Yield a temporary path next to `path`; rename it to `path` if the block succeeds. On any
    error the temporary file is removed (the destination keeps its old content, if any); a full
    disk raises DiskFullError naming `path`."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    except OSError as error:
        if _is_disk_full(error):
            raise disk_full_error(path, error) from error
        raise
    os.close(handle)
    try:
        os.chmod(temporary, 0o666 & ~_UMASK)  # mkstemp makes 0600; outputs should be as readable as any file
        yield Path(temporary)
        os.replace(temporary, path)
    except OSError as error:
        if _is_disk_full(error) and not isinstance(error, DiskFullError):
            raise disk_full_error(path, error) from error
        raise
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def atomic_rename(temporary, path) -> None:
    """Move a finished file into place (same folder: an atomic rename)."""
    os.replace(temporary, path)


_ALLOCATION_UNSUPPORTED = (errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL)


def allocate(handle, size: int) -> None:
    """Reserve `size` bytes on disk for the open file `handle` (from its start), so that writing
    them later through a memory map cannot run out of space: posix_fallocate, or where the file
    system does not support it, writing zeros. A full disk raises OSError (ENOSPC) here."""
    handle.flush()
    try:
        os.posix_fallocate(handle.fileno(), 0, size)
        return
    except OSError as error:
        if error.errno not in _ALLOCATION_UNSUPPORTED:
            raise
    handle.seek(0, os.SEEK_END)
    zeros = bytes(1 << 22)
    remaining = size - handle.tell()
    while remaining > 0:
        remaining -= handle.write(zeros[: min(remaining, len(zeros))])
    handle.flush()
    os.fsync(handle.fileno())


def allocated_memmap(path, dtype, shape: tuple) -> np.memmap:
    """A new .npy file of `dtype` and `shape`, zeros, allocated on disk (allocate), memory-mapped
    for writing: the same bytes np.lib.format.open_memmap(path, "w+", ...) writes."""
    dtype = np.dtype(dtype)
    header = {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False, "shape": tuple(int(n) for n in shape)}
    with open(path, "wb") as handle:
        try:
            np.lib.format.write_array_header_1_0(handle, header)
        except ValueError:  # a header over 64 KiB: format 2.0, as open_memmap would write
            handle.seek(0)
            handle.truncate()
            np.lib.format.write_array_header_2_0(handle, header)
        allocate(handle, handle.tell() + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize)
    return np.lib.format.open_memmap(path, "r+")


@contextmanager
def atomic_memmaps(paths: dict, dtype, shape: tuple):
    """Yield {name: a writable .npy memory map of `dtype` and `shape`} for `paths` (name -> path),
    each in a `<path>.part.npy` file beside its path, allocated on disk first (allocated_memmap:
    a full disk is a DiskFullError here, not a SIGBUS later); when the block succeeds they are
    flushed and renamed into place, and when it fails, whatever the error, they are removed.
    Arrays larger than memory are written this way without ever being held whole."""
    parts = {name: Path(f"{path}.part.npy") for name, path in paths.items()}
    writing = None
    try:
        maps = {}
        for name, part in parts.items():
            writing = paths[name]
            part.parent.mkdir(parents=True, exist_ok=True)
            maps[name] = allocated_memmap(part, dtype, shape)
        writing = None
        yield maps
        for name, stack in maps.items():
            writing = paths[name]
            stack.flush()
        for name, part in parts.items():
            writing = paths[name]
            atomic_rename(part, paths[name])
    except OSError as error:
        if _is_disk_full(error) and not isinstance(error, DiskFullError):
            raise disk_full_error(writing or ", ".join(map(str, paths.values())), error) from error
        raise
    finally:
        maps = None
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


class _LogFile(logging.FileHandler):
    """The job's log file. A line that cannot be written (a full disk) does not print a traceback
    per line, as logging's default does: the file is given up, with one warning on stderr unless
    the disk is full (then the job's own write fails too, with one line naming its file)."""

    def handleError(self, record) -> None:
        error = sys.exc_info()[1]
        if not getattr(self, "given_up", False):
            self.given_up = True
            if not (isinstance(error, OSError) and _is_disk_full(error)):
                print(f"warning: cannot write the job's log {self.baseFilename} ({error}); going on without it", file=sys.stderr)

    def emit(self, record) -> None:
        if not getattr(self, "given_up", False):
            super().emit(record)


def job_logger(log_path, name: str = "lira") -> logging.Logger:
    """A logger that writes everything to the job's log file (Snakemake's `log:`) and, on stderr,
    only announce() lines, warnings and errors.

    An exception that ends the job is logged too, so the job's log says why it failed (Snakemake
    shows only stderr), with the error's own message as the last line. A ReportedError (a bad
    artifact, a full disk: its message says what to do) shows on stderr as that one line,
    "<kind>: <message>"; any other error with its traceback."""
    logger = logging.getLogger(name)
    logger.setLevel(logging.INFO)
    logger.handlers.clear()
    file_handler = _LogFile(log_path, mode="w")
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
        if issubclass(kind, ReportedError):
            print(f"{kind.__name__}: {error}", file=sys.stderr)
        else:
            sys.__excepthook__(kind, error, trace)

    sys.excepthook = log_failure
    return logger
