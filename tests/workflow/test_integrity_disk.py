"""A full disk wherever a job writes (lira.workflow.files): one DiskFullError, "no space left on
device while writing <file>", and no temporary file left behind; memory-mapped stacks are
allocated on disk before they are written, so a full disk is that error and not a SIGBUS.

The real full disk is a 1 MiB tmpfs mounted for the test, which needs root (CI runs as root):
elsewhere those tests are skipped, saying why."""

from __future__ import annotations

import errno
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO

from lira.workflow import artifacts, files
from lira.workflow.files import DiskFullError

TMPFS_BYTES = 1 << 20


@pytest.fixture
def full_disk(tmp_path):
    """A folder on a fresh 1 MiB tmpfs (skips unless root and the mount works)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    mount = tmp_path / "tmpfs"
    mount.mkdir()
    process = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={TMPFS_BYTES}", "tmpfs", str(mount)],
        check=False,
        capture_output=True,
        text=True,
    )
    if process.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {process.stderr.strip() or process.returncode}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=True)


def everything(folder: Path) -> list[str]:
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*"))


def test_saving_an_array_larger_than_the_disk(full_disk):
    destination = full_disk / "out" / "big.npy"
    with pytest.raises(DiskFullError) as caught:
        files.save_array(destination, np.zeros(TMPFS_BYTES // 4, np.float64))  # 2 MiB
    assert str(caught.value).startswith(f"no space left on device while writing {destination} (")
    assert everything(full_disk) == ["out"]  # no temporary left


def test_every_kind_of_write_reports_a_full_disk_and_leaves_nothing(full_disk):
    big = np.random.default_rng(0).random(TMPFS_BYTES // 4)  # 2 MiB that do not compress
    writes = {
        "a.npz": lambda path: files.save_arrays(path, big=big),
        "b.npz": lambda path: artifacts.save_npz(path, big=big),
        "c.json": lambda path: files.write_json(path, {"values": big.tolist()}),
        "d.txt": lambda path: files.write_text(path, "x" * (2 * TMPFS_BYTES)),
    }
    for name, write in writes.items():
        with pytest.raises(DiskFullError, match=rf"^no space left on device while writing {full_disk / name} "):
            write(full_disk / name)
    assert everything(full_disk) == []


def test_a_checkpoint_on_a_full_disk(full_disk):
    torch = pytest.importorskip("torch")
    from lira.models import training

    checkpoint = training.Checkpoint(full_disk / "checkpoints" / "0.pt", every=1, key="k")
    with pytest.raises(DiskFullError, match=rf"^no space left on device while writing {checkpoint.path} "):
        checkpoint.save({"model": {"w": torch.zeros(TMPFS_BYTES // 2)}})
    assert everything(full_disk) == ["checkpoints"]


def test_memory_mapped_stacks_beyond_the_disk_fail_at_allocation_not_with_sigbus(full_disk):
    """Without the allocation, numpy's memory map is a sparse file: writing its pages on a full
    tmpfs kills the process with SIGBUS. Here the stacks are refused when allocated."""
    paths = {name: full_disk / "shadows" / f"{name}.npy" for name in ("a", "b", "c", "d", "e")}
    with pytest.raises(DiskFullError) as caught:
        with files.atomic_memmaps(paths, np.float32, (64, 1000)):  # 5 x 256 KB > 1 MiB
            raise AssertionError("never reached: the stacks cannot all be allocated")
    assert re.match(rf"no space left on device while writing {full_disk}/shadows/[a-e]\.npy \(", str(caught.value))
    assert everything(full_disk) == ["shadows"]


def test_the_stacks_that_fit_are_written_and_those_that_do_not_leave_nothing(full_disk):
    fits = {name: full_disk / f"{name}.npy" for name in ("a", "b", "c")}
    with files.atomic_memmaps(fits, np.float32, (64, 1000)) as maps:
        for stack in maps.values():
            stack[:] = 2.0
    assert all(np.array_equal(np.load(path), np.full((64, 1000), 2.0, np.float32)) for path in fits.values())


def test_a_numpy_sigbus_without_allocation_is_real(full_disk):
    """The failure the allocation avoids: numpy's own memory map on a tmpfs too small for it dies
    with SIGBUS when written (run in a child process)."""
    code = (
        "import numpy as np, sys\n"
        f"m = np.lib.format.open_memmap({str(full_disk / 'sparse.npy')!r}, 'w+', np.float32, (1 << 20,))\n"
        "m[:] = 1.0\n"
    )
    process = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert process.returncode == -7, (process.returncode, process.stderr)  # SIGBUS


def test_the_shadows_step_on_a_full_disk_says_so_in_one_line(full_disk, tmp_path):
    """The shadows job, as Snakemake runs it (a script with files.job_logger), on outputs that do
    not fit: stderr is one line naming the file, and nothing is left on the disk."""
    script = tmp_path / "shadows_on_full_disk.py"
    script.write_text(
        SHADOWS_SCRIPT.format(inputs=tmp_path / "inputs", outputs=full_disk / "shadows", log=tmp_path / "shadows.log")
    )
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"), str(REPO / "tests")])}
    process = subprocess.run(
        [sys.executable, str(script)], check=False, capture_output=True, text=True, env=environment, cwd=tmp_path
    )
    lines = process.stderr.strip().splitlines()
    assert process.returncode == 1 and len(lines) == 1, process.stderr
    assert re.fullmatch(
        rf"DiskFullError: no space left on device while writing {full_disk}/shadows/\w+\.npy \(.*\)", lines[0]
    ), lines
    assert everything(full_disk) == ["shadows"]  # the folder, no file
    log = (tmp_path / "shadows.log").read_text()
    assert "Traceback" in log and log.rstrip().endswith(lines[0])  # the log keeps the traceback


def test_a_log_on_a_full_disk_is_given_up_quietly(full_disk):
    """logging prints a traceback for every line it cannot write; the job's log gives up at the
    first, silently when the disk is full (the job's own writes then say so, in one line)."""
    (full_disk / "filler").write_bytes(bytes(TMPFS_BYTES - 4096 * 2))
    code = (
        "import sys\n"
        "from lira.workflow import files\n"
        "log = files.job_logger(sys.argv[1])\n"
        "for i in range(5000):\n"
        "    log.info('line %d of a long log that does not fit', i)\n"
        "files.announce(log, 'done')\n"
    )
    environment = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    process = subprocess.run(
        [sys.executable, "-c", code, str(full_disk / "job.log")],
        check=False,
        capture_output=True,
        text=True,
        env=environment,
    )
    assert process.returncode == 0 and process.stderr == "done\n", process.stderr[-2000:]


SHADOWS_SCRIPT = """
import logging
from pathlib import Path

import numpy as np

from lira.core import splits
from lira.core.logit_statistics import STACKED_STATISTICS
from lira.workflow import artifacts, files, steps
from lira.workflow.files import job_logger

inputs, outputs = Path("{inputs}"), Path("{outputs}")
log = job_logger("{log}")


class Named(dict):
    __getattr__ = dict.__getitem__


rng = np.random.default_rng(0)
pool = {{"x": np.zeros((400, 1, 2, 2), np.uint8), "y": rng.integers(0, 10, 400), "num_classes": np.int64(10)}}
pool["content_hash"] = artifacts.content_hash(pool)
files.save_arrays(inputs / "pool.npz", **pool)
fingerprint = artifacts.fingerprint(str(pool["content_hash"]), 0)
logits = rng.normal(size=(8, 400, 18, 10)).astype(np.float32)
artifacts.write_array_with_info(inputs / "0-7.npy", inputs / "0-7.json", logits, fingerprint=fingerprint, models=list(range(8)))
named = Named({{name: outputs / f"{{name}}.npy" for name in [*STACKED_STATISTICS, "keep"]}}, info=outputs / "info.json")
queries = {{"mirror": True, "shift": 1, "stride": 1}}
steps.stack_shadows(
    Named(logits=[inputs / "0-7.npy"], logits_info=[inputs / "0-7.json"], pool=inputs / "pool.npz"),
    named, ["0-7"], 0, queries, STACKED_STATISTICS, log,
)
"""


# --- without root -------------------------------------------------------------------------------


def test_an_allocated_memmap_has_the_bytes_of_numpys(tmp_path):
    values = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    mapped = files.allocated_memmap(tmp_path / "a.npy", np.float32, values.shape)
    mapped[:] = values
    mapped.flush()
    del mapped
    np.save(tmp_path / "b.npy", values)
    assert (tmp_path / "a.npy").read_bytes() == (tmp_path / "b.npy").read_bytes()


def test_allocation_falls_back_to_writing_zeros_where_fallocate_is_unsupported(tmp_path, monkeypatch):
    def unsupported(fd, offset, length):
        raise OSError(errno.EOPNOTSUPP, "Operation not supported")

    monkeypatch.setattr(os, "posix_fallocate", unsupported)
    mapped = files.allocated_memmap(tmp_path / "a.npy", np.float64, (1000, 3))
    assert np.array_equal(mapped, np.zeros((1000, 3))) and os.stat(tmp_path / "a.npy").st_blocks * 512 >= 24000


def test_a_short_write_without_errno_counts_as_a_full_disk(tmp_path):
    """numpy's tofile reports a full disk as OSError("N requested and M written"), without errno."""

    destination = tmp_path / "x.npy"
    with pytest.raises(DiskFullError, match=rf"^no space left on device while writing {destination} "):
        with files.atomic_path(destination) as temporary:
            temporary.write_bytes(b"partial")
            raise OSError("524288 requested and 131056 written")
    assert everything(tmp_path) == []
    with pytest.raises(PermissionError):  # any other error passes as it is, and still cleans up
        with files.atomic_path(destination) as temporary:
            temporary.write_bytes(b"partial")
            raise PermissionError(errno.EACCES, "Permission denied")
    assert everything(tmp_path) == []


def test_a_one_line_error_of_a_job_and_a_traceback_for_a_bug(tmp_path):
    code = (
        "import sys\n"
        "from lira.workflow import files\n"
        "from lira.workflow.artifacts import ArtifactError\n"
        "files.job_logger(sys.argv[1])\n"
        "if sys.argv[2] == 'artifact':\n"
        "    raise ArtifactError('results/x/fit.npz: content does not match; delete it')\n"
        "raise KeyError('a bug')\n"
    )
    environment = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    for kind, expected in (
        ("artifact", "ArtifactError: results/x/fit.npz: content does not match; delete it"),
        ("bug", None),
    ):
        log = tmp_path / f"{kind}-{uuid.uuid4().hex}.log"
        process = subprocess.run(
            [sys.executable, "-c", code, str(log), kind], check=False, capture_output=True, text=True, env=environment
        )
        assert process.returncode == 1
        if expected:
            assert process.stderr == expected + "\n"
        else:
            assert "Traceback" in process.stderr and process.stderr.rstrip().endswith("KeyError: 'a bug'")
        assert "Traceback" in log.read_text()
