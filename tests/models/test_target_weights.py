"""A target model trained outside the workflow, queried from its weights file (lira.models.jobs.query_target,
lira.models.weights.load_target_weights and fit_target_weights): safetensors and torch state dicts give the
logits query_block gives, bit for bit; anything but a state dict of finite tensors that fits the model is
refused in one line naming the file, and a planted pickle never runs."""

from __future__ import annotations

import logging
import math
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from formats import CodeRunningPickle

from lira.core.queries import query_set
from lira.workflow import artifacts, files
from lira.workflow.artifacts import ArtifactError

torch = pytest.importorskip("torch")
safetensors_torch = pytest.importorskip("safetensors.torch")

from lira.models import architectures, jobs, querying, weights
from lira.models.images import to_float_images

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SEED = 0
BLOCK = "0-1"
MODEL = {"arch": "cnn", "width": 4}  # channels_last: the layout query_block queries it in
RECIPE = {"epochs": 1, "batch_size": 8, "lr": 0.05, "momentum": 0.9, "weight_decay": 5e-4,
          "augment": {"mirror": True, "shift": 1, "padding": "reflect"}}  # fmt: skip
QUERIES = {"mirror": True, "shift": 1, "stride": 1, "padding": "reflect"}
COMPUTE = {"device": "cpu", "checkpoint_every": 0, "eval_batch_size": 7}
EXPECTED = r"expected a state dict of tensors \(safetensors, or torch.save\(model.state_dict\(\)\)\)"


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> Path:
    """A pool of 24 8x8 images, block 0-1 trained (1 epoch) and queried by the real jobs, and model
    0's state dict saved as a target: target.safetensors, target.pt and wrapped.pt ({"state_dict": ...})."""
    root = tmp_path_factory.mktemp("target")
    rng = np.random.default_rng(0)
    pool = {
        "x": rng.integers(0, 256, (24, 1, 8, 8), dtype=np.uint8),
        "y": rng.integers(0, 3, 24),
        "holdout_x": rng.integers(0, 256, (0, 1, 8, 8), dtype=np.uint8),
        "holdout_y": rng.integers(0, 3, 0),
        "mean": np.array([0.5], np.float32),
        "std": np.array([0.29], np.float32),
        "num_classes": np.int64(3),
    }
    files.save_arrays(root / "pool.npz", **artifacts.with_content_hash(pool))
    log = logging.getLogger("test")
    torch.set_num_threads(1)
    models, logits = root / "models", root / "logits"
    jobs.train_block(
        root / "pool.npz", models / "0-1.pt", models / "0-1.json", BLOCK, SEED, MODEL, RECIPE, COMPUTE, 1, log
    )
    jobs.query_block(
        root / "pool.npz", models / "0-1.pt", models / "0-1.json", logits / "0-1.npy", logits / "0-1.json",
        BLOCK, SEED, MODEL, QUERIES, COMPUTE, 1, log,
    )  # fmt: skip
    state = weights.model_states(models / "0-1.pt", weights.load_weights(models / "0-1.pt"), range(2))[0]
    # Trained channels_last, as a user's model may be: safetensors stores contiguous tensors only.
    safetensors_torch.save_file(
        {name: tensor.contiguous() for name, tensor in state.items()}, root / "target.safetensors"
    )
    torch.save(state, root / "target.pt")
    torch.save({"state_dict": state}, root / "wrapped.pt")
    return root


def query_target(root: Path, weights_path, spec=MODEL) -> dict:
    return jobs.query_target(
        root / "pool.npz", weights_path, root / "target.npy", root / "target.json", SEED, spec, QUERIES, COMPUTE, 1,
        logging.getLogger("test"),
    )  # fmt: skip


@pytest.fixture
def root(made, tmp_path) -> Path:
    """A copy of `made`, to write bad weights and target logits into."""
    return Path(shutil.copytree(made, tmp_path / "run"))


def refused(root: Path, weights_path, message: str, spec=MODEL) -> str:
    """query_target refuses `weights_path` with one ArtifactError line matching `message`
    (a regular expression, "{path}" the file), writing nothing."""
    with pytest.raises(ArtifactError) as caught:
        query_target(root, weights_path, spec)
    text = str(caught.value)
    assert "\n" not in text and re.fullmatch(message.format(path=re.escape(str(weights_path))), text), text
    assert not (root / "target.npy").exists() and not (root / "target.json").exists()
    return text


@pytest.mark.parametrize("name", ["target.safetensors", "target.pt", "wrapped.pt"])
def test_a_target_gives_the_logits_query_block_gives_bit_for_bit(root, name):
    info = query_target(root, root / name)
    expected = artifacts.expected_fingerprint(root / "pool.npz", SEED)
    queries = len(query_set(True, 1, 1))
    logits, stored = artifacts.load_logits(
        root / "target.npy", root / "target.json", expected, [0], (1, 24, queries, 3)
    )
    block_logits = np.load(root / "logits" / "0-1.npy")
    assert logits.dtype == np.float32
    assert np.array_equal(logits[0], block_logits[0])  # bit for bit: the same model, queried the same way
    assert not np.array_equal(logits[0], block_logits[1])

    # And as querying.predict_logits gives them for the model built and loaded by hand.
    pool = artifacts.load_pool(root / "pool.npz")
    state = weights.model_states(
        root / "models" / "0-1.pt", weights.load_weights(root / "models" / "0-1.pt"), range(2)
    )[0]
    model = architectures.build_model(MODEL, (1, 8, 8), 3, pool["mean"], pool["std"])
    model.load_state_dict(state)
    model = model.to(memory_format=architectures.memory_format(MODEL))
    images = to_float_images(pool["x"], torch.device("cpu"))
    assert np.array_equal(logits[0], querying.predict_logits(model, images, query_set(True, 1, 1), "reflect", 7))

    assert {key: stored[key] for key in info} == info
    assert info["source"] == "weights" and info["models"] == [0] and info["queries"] == queries
    assert info["weights"] == str(root / name) and info["weights_sha256"] == artifacts.file_sha256(root / name)
    assert info["model"] == MODEL and info["query_settings"] == QUERIES
    assert len(info["inference_seconds"]) == 1 and 0 <= info["pool_accuracy"] <= 1


def test_the_state_dict_wrapper_and_safetensors_load_the_same_tensors(made):
    flat = weights.load_target_weights(made / "target.pt")
    for name in ("target.safetensors", "wrapped.pt"):
        state = weights.load_target_weights(made / name)
        assert sorted(state) == sorted(flat) and all(torch.equal(state[key], flat[key]) for key in flat)
    data = (made / "target.safetensors").read_bytes()  # bytes already read load the same
    assert all(
        torch.equal(value, flat[key]) for key, value in weights.load_target_weights("t.safetensors", data).items()
    )


def test_a_pickle_carrying_code_is_refused_and_never_runs(root, tmp_path):
    marker = tmp_path / "code-ran"
    state = weights.load_target_weights(root / "target.pt")
    planted = {**state, "extra": CodeRunningPickle(marker)}
    for name, value in [("planted.pt", planted), ("planted-wrapped.pt", {"state_dict": planted})]:
        torch.save(value, root / name)
        refused(
            root,
            root / name,
            r"{path}: refused: not a weights-only checkpoint \(it holds pickled objects other than tensors, which "
            r"could run code when loaded\): GLOBAL (posix|nt)\.system; " + EXPECTED,
        )
    # Named .safetensors, it is not unpickled at all.
    shutil.copy(root / "planted.pt", root / "planted.safetensors")
    refused(root, root / "planted.safetensors", r"{path}: not a readable safetensors file \(.*\); " + EXPECTED)
    assert not marker.exists()
    torch.load(root / "planted.pt", weights_only=False)  # the payload is real: an unsafe load runs it
    assert marker.exists()


def test_a_whole_pickled_model_is_refused_in_one_line(root):
    pool = artifacts.load_pool(root / "pool.npz")
    torch.save(architectures.build_model(MODEL, (1, 8, 8), 3, pool["mean"], pool["std"]), root / "whole.pt")
    refused(
        root,
        root / "whole.pt",
        r"{path}: "
        + EXPECTED
        + r", found a whole pickled model \(torch.nn.modules.container.Sequential\), refused unrun",
    )


def test_other_dicts_and_objects_are_refused_saying_what_they_hold(root):
    state = weights.load_target_weights(root / "target.pt")
    # torch.optim.SGD(...).state_dict(), written out: torch.optim's first use takes seconds to import.
    optimizer = {"state": {0: {"momentum_buffer": torch.ones(2)}}, "param_groups": [{"lr": 0.1, "params": [0]}]}
    cases = {
        "optimizer.pt": (optimizer, r"a dict whose entries 'state' \(dict\), 'param_groups' \(list\) are not tensors"),
        "checkpoint.pt": (
            {"model": state, "optimizer": optimizer, "epoch": 3, "lr": 0.1, "seed": 1},
            r"a dict whose entries 'model' \(.*\), 'optimizer' \(dict\), 'epoch' \(int\) and 2 more are not tensors",
        ),
        "list.pt": ([state["0.mean"]], "a list"),
        "numbered.pt": ({0: state["0.mean"]}, "a dict with int keys"),
        "wrapped-list.pt": ({"state_dict": [state["0.mean"]]}, "a list"),
    }
    for name, (value, found) in cases.items():
        torch.save(value, root / name)
        refused(root, root / name, r"{path}: " + EXPECTED + ", found " + found)


def test_damaged_or_missing_files_are_refused_in_one_line(root):
    (root / "garbage.safetensors").write_bytes(b"not a safetensors file at all")
    refused(root, root / "garbage.safetensors", r"{path}: not a readable safetensors file \(.+\); " + EXPECTED)
    (root / "cut.safetensors").write_bytes((root / "target.safetensors").read_bytes()[:-10])
    refused(root, root / "cut.safetensors", r"{path}: not a readable safetensors file \(.+\); " + EXPECTED)
    (root / "cut.pt").write_bytes((root / "target.pt").read_bytes()[:100])
    refused(root, root / "cut.pt", r"{path}: unreadable checkpoint \(.+\)")
    refused(root, root / "absent.safetensors", r"{path}: unreadable \(No such file or directory\)")
    with pytest.raises(ArtifactError, match=r"absent.safetensors: unreadable \(No such file or directory\)"):
        weights.load_target_weights(root / "absent.safetensors")


def test_weights_of_another_width_name_the_first_shape_mismatch(root):
    refused(
        root,
        root / "target.safetensors",
        r"{path}: weights do not fit model.arch cnn with width 8: 1.0.weight is \[4, 1, 3, 3\] in the file, "
        r"\[8, 1, 3, 3\] in the model \(5 tensors of another shape\)",
        spec={"arch": "cnn", "width": 8},
    )


def test_missing_and_unexpected_tensors_are_named_with_their_counts(root):
    state = weights.load_target_weights(root / "target.pt")
    names = list(state)
    assert names == ["0.mean", "0.std", "1.0.weight", "1.0.bias", "1.3.weight", "1.3.bias", "1.7.weight", "1.7.bias"]
    extra = {f"head.{i}.weight": torch.zeros(2) for i in range(5)}
    torch.save({**{k: v for k, v in state.items() if not k.startswith("1.")}, **extra}, root / "other.pt")
    refused(
        root,
        root / "other.pt",
        r"{path}: weights do not fit model.arch cnn with width 4: 6 of the model's tensors missing "
        r"\(1.0.weight, 1.0.bias, 1.3.weight, and 3 more\); 5 unexpected \(head.0.weight, head.1.weight, "
        r"head.2.weight, and 2 more\)",
    )
    # Saved without its normalisation (a bare body): its names are off by the Normalize in front.
    torch.save({k[2:]: v for k, v in state.items() if k.startswith("1.")}, root / "body.pt")
    refused(
        root,
        root / "body.pt",
        r"{path}: weights do not fit model.arch cnn with width 4: 8 of the model's tensors missing "
        r"\(0.mean, 0.std, 1.0.weight, and 5 more\); 6 unexpected \(0.weight, 0.bias, 3.weight, and 3 more\)",
    )
    # fit_target_weights on its own: the model is left as it was.
    pool = artifacts.load_pool(root / "pool.npz")
    model = architectures.build_model(MODEL, (1, 8, 8), 3, pool["mean"], pool["std"])
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(ArtifactError, match=r"^t.pt: weights do not fit model.arch cnn: 1 unexpected \(x\)$"):
        weights.fit_target_weights(model, {**state, "x": torch.zeros(1)}, "t.pt", "cnn")
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    weights.fit_target_weights(model, state, "t.pt", "cnn")
    assert all(torch.equal(state[k], v) for k, v in model.state_dict().items())


@pytest.mark.parametrize("bad, counts", [(math.nan, "2 NaN and 0 infinite"), (math.inf, "0 NaN and 2 infinite")])
def test_non_finite_weights_are_refused_naming_the_tensor(root, bad, counts):
    state = dict(weights.load_target_weights(root / "target.pt"))
    state["1.3.weight"] = state["1.3.weight"].contiguous().clone()
    state["1.3.weight"][0, 0, :2, 0] = bad
    safetensors_torch.save_file(state, root / "bad.safetensors")
    torch.save({"state_dict": state}, root / "bad.pt")
    for name in ("bad.safetensors", "bad.pt"):
        refused(root, root / name, r"{path}: tensor 1.3.weight holds " + counts + " values; expected finite weights")
