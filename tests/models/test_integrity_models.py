"""Hostile cases on the torch jobs' files (lira.models.jobs): a block's weights are checked against
the sha256 the train job recorded in models/<block>.json before they are unpickled, and a resume
checkpoint that is damaged, changed or not a saved state is ignored with one warning naming it
(the model then trains from scratch, to the same weights). The numpy artifacts:
tests/workflow/test_integrity.py."""

from __future__ import annotations

import json
import logging
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from formats import flip_inside_a_tensor, snapshot

from lira.workflow import artifacts, files
from lira.workflow.artifacts import ArtifactError

torch = pytest.importorskip("torch")

from lira.models import jobs, training, weights  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SEED = 0
BLOCK = "0-1"
MODEL = {"arch": "mlp", "width": 8}
RECIPE = {"epochs": 2, "batch_size": 8, "lr": 0.05, "momentum": 0.9, "weight_decay": 5e-4,
          "augment": {"mirror": True, "shift": 1, "padding": "reflect"}}  # fmt: skip
QUERIES = {"mirror": True, "shift": 0, "stride": 1, "padding": "reflect"}
COMPUTE = {"device": "cpu", "checkpoint_every": 1, "eval_batch_size": 64}


def paths(root: Path) -> dict:
    results = root / "results" / "x"
    return {
        "results": results,
        "pool": results / "pool.npz",
        "weights": results / "models" / f"{BLOCK}.pt",
        "metrics": results / "models" / f"{BLOCK}.json",
        "logits": results / "logits" / f"{BLOCK}.npy",
        "info": results / "logits" / f"{BLOCK}.json",
        "checkpoints": results / "checkpoints",
    }


def train(p, log=None):
    log = log or logging.getLogger("test")
    return jobs.train_block(p["pool"], p["weights"], p["metrics"], BLOCK, SEED, MODEL, RECIPE, COMPUTE, 1, log)


def query(p):
    log = logging.getLogger("test")
    return jobs.query_block(
        p["pool"], p["weights"], p["metrics"], p["logits"], p["info"], BLOCK, SEED, MODEL, QUERIES, COMPUTE, 1, log
    )


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> Path:
    """A pool of 24 8x8 images and block 0-1 trained (2 epochs) and queried, by the real jobs."""
    root = tmp_path_factory.mktemp("made")
    p = paths(root)
    rng = np.random.default_rng(0)
    pool = {
        "x": rng.integers(0, 256, (24, 1, 8, 8), dtype=np.uint8),
        "y": rng.integers(0, 3, 24),
        "holdout_x": rng.integers(0, 256, (4, 1, 8, 8), dtype=np.uint8),
        "holdout_y": rng.integers(0, 3, 4),
        "mean": np.array([0.5], np.float32),
        "std": np.array([0.29], np.float32),
        "num_classes": np.int64(3),
    }
    pool["content_hash"] = artifacts.content_hash(pool)
    files.save_arrays(p["pool"], **pool)
    torch.set_num_threads(1)
    train(p)
    query(p)
    return root


@pytest.fixture
def run(made, tmp_path):
    shutil.copytree(made, tmp_path / "run")
    return paths(tmp_path / "run")




def refused_query(p, message: str) -> str:
    before = snapshot(p["results"])
    with pytest.raises(ArtifactError) as caught:
        query(p)
    text = str(caught.value)
    pattern = ".*".join(re.escape(part) for part in message.format(r=p["results"]).split("..."))
    assert "\n" not in text and re.fullmatch(pattern, text), text
    assert snapshot(p["results"]) == before  # nothing written, nothing deleted
    return text


# --- weights ----------------------------------------------------------------------------------------


WEIGHTS_CHANGED = (
    "{r}/models/0-1.pt: content does not match the sha256 recorded in {r}/models/0-1.json by the job that "
    "wrote it (changed since?); delete both files to retrain block 0-1"
)


def test_the_train_job_records_the_weights_sha256(made):
    p = paths(made)
    assert json.loads(p["metrics"].read_text())["sha256"] == artifacts.file_sha256(p["weights"])


def test_64_flipped_bytes_inside_a_tensor_are_refused_before_the_weights_are_used(made, run):
    flip_inside_a_tensor(run["weights"])
    # torch loads the damaged file without complaint, and its weights differ: only the hash sees it.
    damaged, original = (weights.load_weights(p["weights"]) for p in (run, paths(made)))
    assert sorted(damaged) == sorted(original)
    assert [name for name in original if not torch.equal(damaged[name], original[name])] != []
    refused_query(run, WEIGHTS_CHANGED)


def test_truncated_weights_are_refused(run):
    data = run["weights"].read_bytes()
    run["weights"].write_bytes(data[: len(data) // 2])
    refused_query(run, WEIGHTS_CHANGED)


def test_weights_of_an_older_version_without_their_hash_are_refused_with_the_rule_to_rerun(run):
    metrics = json.loads(run["metrics"].read_text())
    del metrics["sha256"]
    run["metrics"].write_text(json.dumps(metrics))
    refused_query(
        run,
        "{r}/models/0-1.json: records no sha256 of {r}/models/0-1.pt (written by an older version of the "
        "workflow); rerun its rule: snakemake --forcerun train",
    )


def test_a_relabelled_pool_is_refused_by_both_torch_jobs(run):
    arrays = files.load_arrays(run["pool"])
    arrays["y"] = (arrays["y"] + 1) % 3
    np.savez(run["pool"], **arrays)  # content_hash kept
    message = "{r}/pool.npz: content does not match the content_hash recorded in it by the job that wrote it (changed since?); ..."
    refused_query(run, message)
    with pytest.raises(ArtifactError, match=r"pool\.npz: content does not match the content_hash recorded in it"):
        train(run)


def test_good_weights_are_queried_to_the_same_logits(made, run):
    query(run)
    made_paths = paths(made)
    assert run["logits"].read_bytes() == made_paths["logits"].read_bytes()


# --- resume checkpoints -------------------------------------------------------------------------------


class Warnings(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.lines = []

    def emit(self, record):
        self.lines.append(record.getMessage())


def train_with_checkpoint(p, content) -> list[str]:
    """Plant `content` (bytes, or an object to torch.save) as model 0's checkpoint, train the block
    again and return the warnings; the weights must equal those of a training from scratch."""
    p["checkpoints"].mkdir(parents=True, exist_ok=True)
    checkpoint = p["checkpoints"] / "0.pt"
    if isinstance(content, bytes):
        checkpoint.write_bytes(content)
    else:
        torch.save(content, checkpoint)
    reference = p["weights"].read_bytes()
    log = logging.getLogger("test_integrity_checkpoint")
    log.setLevel(logging.INFO)
    handler = Warnings()
    log.addHandler(handler)
    try:
        metrics = train(p, log)
    finally:
        log.removeHandler(handler)
    assert metrics[0]["resumed_from_epoch"] == 0  # trained from scratch...
    assert p["weights"].read_bytes() == reference  # ...to the same weights
    assert not list(p["checkpoints"].iterdir())  # the planted file is gone with the block done
    return handler.lines


def test_a_checkpoint_holding_a_list_is_ignored_with_one_warning(run):
    lines = train_with_checkpoint(run, [torch.ones(2), "not a state"])
    assert lines == [
        f"ignoring checkpoint {run['checkpoints'] / '0.pt'}: holds a list, not a saved training state; training from scratch"
    ]


def test_an_unreadable_checkpoint_is_ignored_with_one_warning(run):
    lines = train_with_checkpoint(run, b"PK\x03\x04 truncated")
    assert len(lines) == 1 and lines[0].startswith(f"ignoring checkpoint {run['checkpoints'] / '0.pt'}: unreadable (")
    assert lines[0].endswith("); training from scratch") and "\n" not in lines[0]


def saved_state(tmp_path, key: str) -> dict:
    """A real checkpoint of model 0 after its first epoch, with the train job's key."""
    path = tmp_path / "saved.pt"

    class Stop(Exception):
        pass

    class StopAfterSave(training.Checkpoint):
        def save(self, state):
            super().save(state)
            raise Stop

    images = torch.rand(8, 1, 8, 8)
    labels = torch.arange(8) % 3
    from lira.models.architectures import build_model

    model = build_model(MODEL, (1, 8, 8), 3, [0.5], [0.29])
    with pytest.raises(Stop):
        training.train(model, images, labels, RECIPE, seed=1, checkpoint=StopAfterSave(path, every=1, key=key))
    return torch.load(path, weights_only=True)


def test_a_checkpoint_changed_since_it_was_saved_is_ignored_with_one_warning(run, tmp_path):
    state = saved_state(tmp_path, key="k")
    assert state["sha256"] == training.state_sha256({k: v for k, v in state.items() if k != "sha256"})
    checkpoint = training.Checkpoint(tmp_path / "c.pt", every=1, key="k")
    torch.save(state, checkpoint.path)
    assert checkpoint.load() is not None  # as saved: resumed
    name = next(iter(state["model"]))
    state["model"][name] = state["model"][name] + 1e-3  # hash kept
    torch.save(state, checkpoint.path)
    log = logging.getLogger("test_integrity_changed")
    handler = Warnings()
    log.addHandler(handler)
    try:
        assert checkpoint.load(log) is None
    finally:
        log.removeHandler(handler)
    expected = (
        f"ignoring checkpoint {checkpoint.path}: content does not match the sha256 recorded in it "
        "(changed since it was saved?); training from scratch"
    )
    assert handler.lines == [expected]
