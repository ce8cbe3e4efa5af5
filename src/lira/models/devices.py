"""Which device a train or logits job runs on, and claiming a GPU when several jobs share a node.

Snakemake never sets CUDA_VISIBLE_DEVICES for local jobs: with `--resources gpu=K` it starts up
to K GPU jobs at once and each must find a device no other job uses. A job claims one by taking
an exclusive `flock` on a lock file named after the GPU's UUID in a node-wide folder
(LIRA_GPU_LOCKS, default /tmp/lira-gpu-locks). The kernel drops the lock when the process ends,
however it ends (a crash, a kill, a preemption), so a lock can never go stale. Keying by UUID
rather than index keeps the claim right when jobs see different CUDA_VISIBLE_DEVICES (as under
SLURM, which sets it per job).

compute.device:
- cpu: the CPU.
- auto: claim a free GPU when torch sees one; else the CPU, said in the job's log.
- cuda: claim a free GPU; a job that finds none fails at once (no silent CPU fallback for a
  setting that asks for a GPU: 100 epochs of a wide ResNet on a CPU would take days).
- cuda:K: exactly that device, no claim (the user decided).
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import time
from pathlib import Path

LOCK_DIRECTORY = Path(os.environ.get("LIRA_GPU_LOCKS", "/tmp/lira-gpu-locks"))

# Open lock files of this process's claims: the locks last as long as the process.
_held: list = []


def try_claim(keys: list[str], lock_directory: Path = LOCK_DIRECTORY) -> int | None:
    """Lock the first of `keys` that no other process holds; its index, or None when all are held.

    The lock lasts until the process exits (or release() is called)."""
    lock_directory.mkdir(parents=True, exist_ok=True)
    try:
        os.chmod(lock_directory, 0o1777)  # any user's jobs may claim; only the owner removes a file
    except PermissionError:
        pass
    for index, key in enumerate(keys):
        path = lock_directory / f"{key}.lock"
        try:
            handle = open(path, "a")
        except PermissionError:  # another user's lock file: flock needs no write access
            handle = open(path)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            handle.close()
            if error.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                continue
            raise
        if handle.writable():  # who holds it, for a person looking
            handle.truncate(0)
            handle.write(f"pid {os.getpid()} on {os.uname().nodename}\n")
            handle.flush()
        _held.append(handle)
        return index
    return None


def claim(
    keys: list[str], log: logging.Logger, lock_directory: Path = LOCK_DIRECTORY, poll_seconds: float = 2.0
) -> int:
    """Index of a claimed key, waiting while every one is held by other jobs."""
    waited = False
    while (index := try_claim(keys, lock_directory)) is None:
        if not waited:
            log.info("all %d GPUs are claimed by other jobs (locks in %s): waiting for one", len(keys), lock_directory)
            waited = True
        time.sleep(poll_seconds)
    return index


def release() -> None:
    """Give back every claim of this process (normally the process's exit does it)."""
    while _held:
        _held.pop().close()


def select_device(requested: str, log: logging.Logger, lock_directory: Path = LOCK_DIRECTORY):
    """The torch.device for compute.device `requested` (see the module's docstring), logged with
    the host and, inside a SLURM job, its id."""
    import torch

    log.info("host %s, SLURM job %s", os.uname().nodename, os.environ.get("SLURM_JOB_ID", "none"))

    if requested == "cpu":
        return torch.device("cpu")
    if requested not in ("auto", "cuda"):
        device = torch.device(requested)
        if not torch.cuda.is_available():
            raise RuntimeError(
                f"compute.device={requested!r} but torch sees no GPU on this machine; use 'auto' or 'cpu'"
            )
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise RuntimeError(
                f"compute.device={requested!r} but torch sees {torch.cuda.device_count()} GPU(s) here "
                f"(CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES', 'unset')}); use cuda:0 to "
                f"cuda:{torch.cuda.device_count() - 1}, 'cuda' or 'auto'"
            )
        return device
    visible = os.environ.get("CUDA_VISIBLE_DEVICES", "unset")
    if not torch.cuda.is_available():
        if requested == "cuda":
            raise RuntimeError(
                f"compute.device='cuda' but torch sees no GPU (CUDA_VISIBLE_DEVICES={visible}); "
                "set compute.device to 'auto' to fall back to the CPU, or 'cpu'"
            )
        log.warning(
            "compute.device=auto: torch sees no GPU (CUDA_VISIBLE_DEVICES=%s, torch %s, CUDA build %s): running on the CPU",
            visible,
            torch.__version__,
            torch.version.cuda,
        )
        return torch.device("cpu")
    keys = [gpu_key(index) for index in range(torch.cuda.device_count())]
    index = claim(keys, log, lock_directory)
    log.info(
        "claimed GPU %d of %d visible (%s, CUDA_VISIBLE_DEVICES=%s)",
        index,
        len(keys),
        torch.cuda.get_device_name(index),
        visible,
    )
    return torch.device("cuda", index)


def gpu_key(index: int) -> str:
    """A name for visible GPU `index` that is the same in every process on the node: its UUID."""
    import torch

    return f"GPU-{torch.cuda.get_device_properties(index).uuid}"
