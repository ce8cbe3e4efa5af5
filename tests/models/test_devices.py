"""lira.models.devices: the device a job runs on, and GPU claims that two jobs on one node never share."""

from __future__ import annotations

import logging
import subprocess
import sys

import pytest

from lira.models import devices

torch = pytest.importorskip("torch")

LOG = logging.getLogger("test-devices")


@pytest.fixture(autouse=True)
def no_claims_left():
    yield
    devices.release()


def test_claims_take_free_devices_in_order(tmp_path):
    keys = ["GPU-a", "GPU-b"]
    assert devices.try_claim(keys, tmp_path) == 0
    # flock is per open file: a second claim, even from the same process, gets the next device.
    assert devices.try_claim(keys, tmp_path) == 1
    assert devices.try_claim(keys, tmp_path) is None
    devices.release()
    assert devices.try_claim(keys, tmp_path) == 0


def hold(keys, lock_directory):
    """A separate process that claims a device and keeps it until its stdin closes."""
    code = (
        "import sys; from pathlib import Path; from lira.models import devices; "
        f"print(devices.try_claim({keys!r}, Path({str(lock_directory)!r})), flush=True); sys.stdin.read()"
    )
    process = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    return process, process.stdout.readline().strip()


def test_a_claim_held_by_another_process_is_skipped_until_that_process_ends(tmp_path):
    keys = ["GPU-a", "GPU-b"]
    holder, claimed = hold(keys, tmp_path)
    try:
        assert claimed == "0"
        assert devices.try_claim(keys, tmp_path) == 1
        assert devices.try_claim(keys, tmp_path) is None
    finally:
        holder.kill()  # however the holder ends, the kernel drops its lock
        holder.wait()
    assert devices.try_claim(keys, tmp_path) == 0
    assert "pid" in (tmp_path / "GPU-a.lock").read_text()


def test_cpu_is_the_cpu(tmp_path):
    assert devices.select_device("cpu", LOG, tmp_path) == torch.device("cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is present")
def test_auto_without_a_gpu_falls_back_to_the_cpu_and_says_so(tmp_path, caplog):
    with caplog.at_level(logging.INFO, logger="test-devices"):
        assert devices.select_device("auto", LOG, tmp_path) == torch.device("cpu")
    assert "compute.device=auto: torch sees no GPU" in caplog.text and "running on the CPU" in caplog.text


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is present")
@pytest.mark.parametrize("requested", ["cuda", "cuda:1"])
def test_cuda_without_a_gpu_fails_with_the_way_out(tmp_path, requested):
    with pytest.raises(RuntimeError, match="sees no GPU.*'auto'"):
        devices.select_device(requested, LOG, tmp_path)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_auto_with_a_gpu_claims_one(tmp_path):
    device = devices.select_device("auto", LOG, tmp_path)
    assert device.type == "cuda" and device.index == 0
    assert (tmp_path / f"{devices.gpu_key(0)}.lock").exists()
