"""The workflow on a real SLURM: a throw-away single-node cluster on localhost with two fake GPUs.

The module's fixture starts munged, slurmctld and slurmd (Debian's slurm-wlm and munge, which
`make slurm` installs; .ci/run does), runs the tiny config through `snakemake --executor slurm`
with profiles/slurm (blocks of two models; grouped jobs: two blocks' train -> logits per SLURM
job), and stops every daemon it started. It is skipped, with the reason, where such a cluster
cannot be started (not root, SLURM not installed, a SLURM already configured or running); with
LIRA_REQUIRE_SLURM=1 (CI) it fails instead.

The GPUs are fake (gres File=/dev/tty0,1): SLURM allocates them and sets CUDA_VISIBLE_DEVICES,
torch sees no CUDA, and the jobs (compute.device auto) run on the CPU and say so.
"""

from __future__ import annotations

import ctypes
import json
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import REPO, SNAKEMAKE, snakemake, tiny_config, write_config

pytestmark = pytest.mark.workflow

SLURM_CONF = Path("/etc/slurm/slurm.conf")  # srun inside a job reads it from here (the plugin drops SLURM_CONF)
GRES_CONF = SLURM_CONF.with_name("gres.conf")
DAEMONS = ("munged", "slurmctld", "slurmd")
COMMANDS = (*DAEMONS, "munge", "sbatch", "squeue", "scontrol", "sinfo", "scancel")
PROFILE = REPO / "profiles" / "slurm"
MARKER = "# A throw-away test cluster of tests/end_to_end/test_slurm.py, removed when the test ends.\n"


def running(name: str) -> bool:
    return subprocess.run(["pgrep", "-x", name], capture_output=True).returncode == 0


def why_no_cluster() -> str | None:
    """Why a throw-away cluster cannot be started here, or None."""
    if os.geteuid() != 0:
        return "needs root to start munged, slurmctld and slurmd"
    missing = [command for command in COMMANDS if shutil.which(command) is None]
    if missing:
        return (
            f"SLURM is not installed (no {', '.join(missing)}): `make slurm` installs slurm-wlm and munge (root, apt)"
        )
    try:
        import snakemake_executor_plugin_slurm  # noqa: F401
    except ImportError:
        return "snakemake-executor-plugin-slurm is not installed: pip install -e '.[workflow]'"
    if running("slurmctld") or running("slurmd"):
        return "a SLURM daemon is already running on this machine"
    for path in (SLURM_CONF, GRES_CONF):  # ours only if a killed run left them
        if path.exists() and not path.read_text().startswith(MARKER):
            return f"{path} exists: this machine has its own SLURM configuration, which the test will not replace"
    return None


def die_with_parent() -> None:
    """In a daemon about to start: get SIGTERM when pytest dies, even by SIGKILL (Linux)."""
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def node_line() -> str:
    """The node as slurmd detects it (CPUs, sockets, memory), named localhost, with two GPUs."""
    detected = subprocess.run(["slurmd", "-C"], capture_output=True, text=True, check=True).stdout.splitlines()[0]
    return re.sub(r"^NodeName=\S+", "NodeName=localhost", detected) + " Gres=gpu:2 State=UNKNOWN"


class Cluster:
    def __init__(self, root: Path):
        self.root = root
        self.processes: dict[str, subprocess.Popen] = {}
        self.written: list[Path] = []

    def start(self) -> None:
        root = self.root
        for folder in ("state", "spool"):
            (root / folder).mkdir()
        SLURM_CONF.parent.mkdir(parents=True, exist_ok=True)
        settings = {
            "ClusterName": "lira-test",
            "SlurmctldHost": "localhost",
            "SlurmUser": "root",
            "AuthType": "auth/munge",
            "StateSaveLocation": root / "state",
            "SlurmdSpoolDir": root / "spool",
            "SlurmctldPidFile": root / "slurmctld.pid",
            "SlurmdPidFile": root / "slurmd.pid",
            "SlurmctldLogFile": root / "slurmctld.log",
            "SlurmdLogFile": root / "slurmd.log",
            "ProctrackType": "proctrack/linuxproc",
            "TaskPlugin": "task/none",
            "MpiDefault": "none",
            "MailProg": "/bin/true",
            "JobAcctGatherType": "jobacct_gather/none",
            "AccountingStorageType": "accounting_storage/none",
            "SelectType": "select/cons_tres",
            "SelectTypeParameters": "CR_Core_Memory",
            "DefMemPerCPU": 500,  # else each job takes the whole node's memory
            "MinJobAge": 3600,  # finished jobs stay visible to squeue/scontrol (no accounting database)
            "ReturnToService": 2,
            "GresTypes": "gpu",
        }
        lines = [f"{key}={value}" for key, value in settings.items()]
        lines += [node_line(), "PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP"]
        self.write(SLURM_CONF, MARKER + "\n".join(lines) + "\n")
        self.write(GRES_CONF, MARKER + "NodeName=localhost Name=gpu File=/dev/tty[0-1]\n")

        if subprocess.run("munge -n | unmunge", shell=True, capture_output=True).returncode != 0:
            socket_folder = Path("/run/munge")
            socket_folder.mkdir(exist_ok=True)
            shutil.chown(socket_folder, "munge", "munge")
            self.spawn("munged", ["runuser", "-u", "munge", "--", "munged", "--foreground"])
            self.wait_for(
                lambda: subprocess.run("munge -n | unmunge", shell=True, capture_output=True).returncode == 0, "munged"
            )
        self.spawn("slurmctld", ["slurmctld", "-D", "-i"])
        self.spawn("slurmd", ["slurmd", "-D", "-N", "localhost"])
        self.wait_for(lambda: self.node_state() == "idle", "an idle node")

    def write(self, path: Path, text: str) -> None:
        path.write_text(text)
        self.written.append(path)

    def spawn(self, name: str, command: list[str]) -> None:
        with open(self.root / f"{name}.out", "w") as output:
            self.processes[name] = subprocess.Popen(
                command, stdout=output, stderr=subprocess.STDOUT, preexec_fn=die_with_parent
            )

    def node_state(self) -> str:
        return subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True).stdout.strip()

    def wait_for(self, ready, what: str, seconds: float = 60) -> None:
        deadline = time.monotonic() + seconds
        while not ready():
            for name, process in self.processes.items():
                if process.poll() is not None:
                    raise RuntimeError(f"{name} exited: {(self.root / f'{name}.out').read_text()[-2000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"no {what} after {seconds} s; slurmctld log: {self.log_tail()}")
            time.sleep(0.5)

    def log_tail(self) -> str:
        path = self.root / "slurmctld.log"
        return path.read_text()[-2000:] if path.exists() else "(none)"

    def jobs(self) -> dict[int, dict[str, str]]:
        """Every job the controller remembers (MinJobAge keeps finished ones), as key=value fields."""
        text = subprocess.run(["scontrol", "show", "job", "--oneliner"], capture_output=True, text=True).stdout
        records = {}
        for line in text.splitlines():
            fields = dict(item.split("=", 1) for item in line.split() if "=" in item)
            if "JobId" in fields:
                records[int(fields["JobId"])] = fields
        return records

    def stop(self) -> None:
        if "slurmctld" in self.processes:
            subprocess.run(["scancel", "--full", "--user", "root"], capture_output=True)
        for name in ("slurmd", "slurmctld", "munged"):  # the reverse of the start
            process = self.processes.get(name)
            if process is None or process.poll() is not None:
                continue
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for path in self.written:
            path.unlink(missing_ok=True)


@pytest.fixture(scope="module")
def slurm_cluster(tmp_path_factory):
    reason = why_no_cluster()
    if reason is not None:
        if os.environ.get("LIRA_REQUIRE_SLURM") == "1":
            pytest.fail(f"LIRA_REQUIRE_SLURM=1 but no SLURM cluster can be started: {reason}")
        pytest.skip(f"no SLURM cluster: {reason}")
    cluster = Cluster(tmp_path_factory.mktemp("slurm"))
    terminate = signal.signal(signal.SIGTERM, interrupt)  # a SIGTERM (timeout, CI) still stops the daemons
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()
        signal.signal(signal.SIGTERM, terminate)
    for name in DAEMONS:
        process = cluster.processes.get(name)
        assert process is None or process.poll() is not None, f"{name} still running"


def slurm_config(fashion_mnist_dir) -> dict:
    config = tiny_config(fashion_mnist_dir, models_per_job=2)  # blocks 0-1, 2-3, 4-5
    # gpu-tagged jobs that run on the CPU where torch sees no GPU: here, the fake ones.
    config["compute"].update(
        device="auto", runtime_minutes={"train": 7, "logits": 3}, mem_mb={"train": 900, "logits": 800}
    )
    return config


def without_timings(value):
    """A JSON value without the keys that hold measured seconds."""
    if isinstance(value, dict):
        return {key: without_timings(item) for key, item in value.items() if not key.endswith("seconds")}
    if isinstance(value, list):
        return [without_timings(item) for item in value]
    return value


def compare_results(ours: Path, theirs: Path) -> int:
    """Two runs wrote the same files, and every result is identical: arrays, weights, tables,
    figures byte for byte; JSON equal but for measured seconds. Left out: logs, benchmarks, the
    run's manifest (versions, hosts, times) and PDFs (they carry their creation date). Returns the
    number of files compared byte for byte."""
    compared = 0
    files = sorted(path.relative_to(theirs) for path in theirs.rglob("*") if path.is_file())
    assert files == sorted(path.relative_to(ours) for path in ours.rglob("*") if path.is_file())
    for name in files:
        if name.parts[0] in ("logs", "benchmarks") or name.suffix == ".pdf" or name == Path("manifest.json"):
            continue
        if name.suffix == ".json":
            a, b = (without_timings(json.loads((root / name).read_text())) for root in (ours, theirs))
            assert a == b, name
            continue
        assert (ours / name).read_bytes() == (theirs / name).read_bytes(), name
        compared += 1
    return compared


def test_profiles_name_only_rules_of_the_workflow(tmp_path):
    """The slurm profile's groups refer to rules that exist (Snakemake ignores unknown names): those
    of the default config, and those a target adds (here a target population)."""
    (tmp_path / "config.yaml").write_text((REPO / "config.yaml").read_text())
    rules = set(snakemake(tmp_path, "--list-rules").stdout.split())
    audit = tmp_path / "audit.yaml"
    audit.write_text("target: {name: t, population: {models: 2, seed: 1}}\n")
    rules |= set(snakemake(tmp_path, "--list-rules", configfile=audit).stdout.split())
    profile = yaml.safe_load((PROFILE / "config.yaml").read_text())
    grouped = {entry.split("=")[0] for entry in profile["groups"]}
    assert grouped <= rules and {"train", "logits"} <= grouped
    assert profile["executor"] == "slurm" and "gpu=local" in profile["set-resource-scopes"]
    assert yaml.safe_load((REPO / "profiles" / "gpu" / "config.yaml").read_text())["resources"] == ["gpu=1"]


def test_tiny_config_through_slurm_equals_a_local_run(slurm_cluster, tmp_path, fashion_mnist_dir):
    config = slurm_config(fashion_mnist_dir)
    # The local run of the same config, on one core beside the SLURM run (which mostly waits).
    local = tmp_path / "local"
    local.mkdir()
    write_config(local / "config.yaml", config)
    local_command = [str(SNAKEMAKE), "--snakefile", str(REPO / "Snakefile"), "--directory", str(local), "--cores", "1"]
    local_run = subprocess.Popen(local_command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    workdir = tmp_path / "slurm"
    workdir.mkdir()
    write_config(workdir / "config.yaml", config)
    command = [
        str(SNAKEMAKE), "--snakefile", str(REPO / "Snakefile"), "--directory", str(workdir),
        "--workflow-profile", str(PROFILE),
        # This cluster: two cores, a core per job (a group job runs its jobs one at a time), small
        # memory requests, no accounting database (squeue polls), status checks from the first
        # second, groups of two blocks of models (two SLURM jobs for the three blocks).
        "--cores", "1", "--default-resources", "mem_mb=500", "runtime=10",
        "--group-components", "shadow=2",
        "--slurm-status-command", "squeue", "--slurm-init-seconds-before-status-checks", "1",
        "--slurm-keep-successful-logs",
    ]  # fmt: skip
    try:
        process = subprocess.run(command, cwd=workdir, capture_output=True, text=True, timeout=1800)
        local_output = local_run.communicate(timeout=1800)[0]
    finally:
        if local_run.poll() is None:
            local_run.kill()
    assert local_run.returncode == 0, local_output[-8000:]
    output = process.stdout + process.stderr
    assert process.returncode == 0, output[-8000:] + slurm_cluster.log_tail()
    assert "has been submitted with SLURM jobid" in output

    records = slurm_cluster.jobs()
    assert records and all(record["JobState"] == "COMPLETED" for record in records.values())
    results = workdir / "results" / "tiny"
    shadow_jobs = set()
    for block in ("0-1", "2-3", "4-5"):
        for rule in ("train", "logits"):
            log = (results / "logs" / rule / f"{block}.log").read_text()
            job = int(re.search(r"SLURM job (\d+)", log).group(1))
            record = records[job]
            # The job's submission asked for one GPU; its group holds that block's chain.
            assert record.get("TresPerJob") == "gres:gpu:1", record
            assert record["Comment"].startswith("rule_shadow"), record
            assert "compute.device=auto: torch sees no GPU" in log and "running on the CPU" in log
            shadow_jobs.add(job)
        # 7 minutes per model, 2 models.
        assert "job asked for gpu=1, runtime=14 min, mem_mb=900" in (results / "logs/train" / f"{block}.log").read_text()
    # Grouped: two blocks per SLURM job (the last holds one), each asking for one GPU, not two.
    assert len(shadow_jobs) == 2
    others = [record for job, record in records.items() if job not in shadow_jobs]
    assert any(record["Comment"].startswith("rule_pool") for record in others)  # its wildcard (the population) may follow
    assert all("TresPerJob" not in record for record in others)  # only GPU jobs ask for a GPU

    assert compare_results(results, local / "results" / "tiny") > 30
    logits = np.load(results / "logits" / "0-1.npy")
    assert logits.shape == (2, 240, 18, 10) and np.isfinite(logits).all()
