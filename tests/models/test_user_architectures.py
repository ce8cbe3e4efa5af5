"""A user's architecture, model.arch "package.module:function" (lira.models.architectures): imported
from the working directory, built as it is (no normalisation in front), trained and queried like a
built-in one; every way it can fail is one line naming model.arch."""

from __future__ import annotations

import importlib
import logging
import sys
import textwrap

import numpy as np
import pytest

from lira.core.queries import query_set
from lira.workflow import artifacts, files
from lira.workflow.files import ReportedError

torch = pytest.importorskip("torch")

from lira.models import architectures, jobs, querying, training
from lira.models.architectures import ArchitectureError
from lira.models.images import to_float_images

pytestmark = pytest.mark.usefixtures("one_torch_thread")

IN_SHAPE = (1, 8, 8)
RECIPE = {"epochs": 1, "batch_size": 8, "lr": 0.05, "momentum": 0.9, "weight_decay": 5e-4,
          "augment": {"mirror": True, "shift": 1, "padding": "reflect"}}  # fmt: skip

# A user's file: the function records its arguments and the module it returns.
NETS = """
from torch import nn

calls = []


def small(in_shape, num_classes):
    channels, height, width = in_shape
    model = nn.Sequential(nn.Flatten(), nn.Linear(channels * height * width, 16), nn.ReLU(), nn.Linear(16, num_classes))
    calls.append((in_shape, num_classes, model))
    return model
"""


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """The Snakemake working directory, tmp_path, made the current one; write(name, source) puts a
    module there. sys.path and the modules imported from it are restored after the test."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    before = set(sys.modules)

    def write(name: str, source: str):
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source))
        importlib.invalidate_caches()  # a folder listed by an earlier import may be cached without this file

    yield write
    for name in set(sys.modules) - before:
        del sys.modules[name]


@pytest.mark.parametrize(
    "arch, expected",
    [
        ("my_models:net", True),
        ("lab.nets.v2:resnet_18", True),
        ("_private:_f", True),
        ("mlp", False),
        ("wrn", False),
        ("my_models.net", False),
        ("my_models:", False),
        (":net", False),
        ("my_models:net:x", False),
        ("my_models:nets.small", False),
        ("2models:net", False),
        ("my-models:net", False),
        ("my_models: net", False),
        ("/home/me/my_models.py:net", False),
        (None, False),
    ],
)
def test_is_user_architecture_is_the_import_path_pattern(arch, expected):
    assert architectures.is_user_architecture(arch) is expected


def test_a_user_architecture_is_built_as_it_is_trained_and_queried(workdir):
    workdir("lab/__init__.py", "")
    workdir("lab/nets.py", NETS)
    spec = {"arch": "lab.nets:small"}
    torch.manual_seed(0)
    # in_shape as the jobs pass it: a slice of a numpy shape.
    model = architectures.build_model(spec, np.zeros((5, *IN_SHAPE)).shape[1:], np.int64(3), [0.5], [0.25])
    nets = sys.modules["lab.nets"]
    assert nets.calls == [((1, 8, 8), 3, model)]  # the module as the function returned it: no Normalize in front
    assert type(nets.calls[0][0]) is tuple and all(type(size) is int for size in nets.calls[0][0])
    assert type(nets.calls[0][1]) is int
    assert "0.mean" not in model.state_dict()
    assert architectures.memory_format(spec) == torch.contiguous_format

    rng = np.random.default_rng(0)
    images = to_float_images(rng.integers(0, 256, (32, *IN_SHAPE), dtype=np.uint8), torch.device("cpu"))
    labels = torch.from_numpy(rng.integers(0, 3, 32))
    before = {name: tensor.clone() for name, tensor in model.state_dict().items()}
    result = training.train(model, images, labels, RECIPE, seed=1)
    assert len(result.epoch_loss) == 1 and np.isfinite(result.epoch_loss[0])
    assert any(not torch.equal(before[name], tensor) for name, tensor in model.state_dict().items())

    queries = query_set(True, 1, 1)
    logits = querying.predict_logits(model, images, queries, "reflect", batch_size=10)
    assert logits.shape == (32, len(queries), 3) and logits.dtype == np.float32 and np.isfinite(logits).all()
    with torch.no_grad():
        plain = model(images).numpy()  # the images as they are, unnormalised
    np.testing.assert_allclose(logits[:, 0], plain, rtol=1e-5, atol=1e-6)  # another batch size: another summation order


def test_the_working_directory_is_put_on_sys_path_once(workdir, tmp_path):
    workdir("my_models.py", NETS)
    for _ in range(2):
        assert callable(architectures.user_architecture("my_models:small"))
    assert sys.path.count(str(tmp_path)) == 1 and sys.path[0] == str(tmp_path)


def test_a_user_architecture_target_is_queried_from_its_weights(workdir, tmp_path):
    """query_target with a user's architecture: its state dict has no normalisation, and the logits
    are the module's own."""
    workdir("my_models.py", NETS)
    rng = np.random.default_rng(1)
    pool = {
        "x": rng.integers(0, 256, (12, *IN_SHAPE), dtype=np.uint8),
        "y": rng.integers(0, 3, 12),
        "mean": np.array([0.5], np.float32),
        "std": np.array([0.29], np.float32),
        "num_classes": np.int64(3),
    }
    files.save_arrays(tmp_path / "pool.npz", **artifacts.with_content_hash(pool))
    spec = {"arch": "my_models:small"}
    torch.manual_seed(3)
    model = architectures.build_model(spec, IN_SHAPE, 3, pool["mean"], pool["std"])
    assert "0.mean" not in model.state_dict()
    torch.save(model.state_dict(), tmp_path / "target.pt")

    def query(spec, weights_path=tmp_path / "target.pt", logits_path=tmp_path / "logits.npy"):
        queries = {"mirror": True, "shift": 1, "stride": 1, "padding": "reflect"}
        compute = {"device": "cpu", "eval_batch_size": 5}
        return jobs.query_target(
            tmp_path / "pool.npz", weights_path, logits_path, logits_path.with_suffix(".json"), 0, spec, queries,
            compute, 1, logging.getLogger("test"),
        )  # fmt: skip

    info = query(spec)
    logits = np.load(tmp_path / "logits.npy")
    images = to_float_images(pool["x"], torch.device("cpu"))
    expected = querying.predict_logits(model, images, query_set(True, 1, 1), "reflect", 5)
    np.testing.assert_array_equal(logits, expected[np.newaxis])
    assert info["model"] == spec and info["models"] == [0]

    # A module whose outputs are not one logit per class of the pool: refused, nothing written.
    workdir(
        "wrong.py", "from my_models import small\n\ndef five(in_shape, num_classes):\n    return small(in_shape, 5)\n"
    )
    torch.save(
        architectures.build_model({"arch": "wrong:five"}, IN_SHAPE, 3, None, None).state_dict(), tmp_path / "5.pt"
    )
    with pytest.raises(ArchitectureError) as caught:
        query({"arch": "wrong:five"}, tmp_path / "5.pt", tmp_path / "wrong.npy")
    assert str(caught.value) == (
        "model.arch 'wrong:five': the model gives logits of shape [5] per image, expected [3] (the pool's classes)"
    )
    assert not (tmp_path / "wrong.npy").exists() and not (tmp_path / "wrong.json").exists()


IMPORTABLE = "; it must be importable from the working directory or an installed package"
FAILURES = [
    # (model.arch, {file: source}, message after "model.arch '<arch>': ")
    (
        "no_such_module_xyz:net",
        {},
        "cannot import module no_such_module_xyz (No module named 'no_such_module_xyz')" + IMPORTABLE,
    ),
    (
        "my_models.deeper:net",
        {"my_models.py": NETS},
        "cannot import module my_models.deeper (No module named 'my_models.deeper'; 'my_models' is not a package)"
        + IMPORTABLE,
    ),
    (
        "my_models:net",
        {"my_models.py": "import no_such_dependency_xyz\n"},
        "importing module my_models raised ModuleNotFoundError: No module named 'no_such_dependency_xyz'",
    ),
    (
        "my_models:net",
        {"my_models.py": "raise RuntimeError('no GPU here\\nsecond line')\n"},
        "importing module my_models raised RuntimeError: no GPU here",
    ),
    ("my_models:net", {"my_models.py": "def net(:\n"}, "importing module my_models raised SyntaxError: "),
    ("my_models:net", {"my_models.py": NETS}, "module my_models ({tmp}/my_models.py) has no attribute net"),
    (
        "my_models:net",
        {"my_models.py": "net = 3\n"},
        "my_models.net is not callable (a int), expected a function (in_shape, num_classes) -> torch.nn.Module",
    ),
    (
        "my_models:net",
        {"my_models.py": "def net(in_shape, num_classes):\n    raise ValueError('needs 3 channels\\nsee the docs')\n"},
        "net((1, 8, 8), 3) raised ValueError: needs 3 channels",
    ),
    (
        "my_models:net",
        {"my_models.py": "def net(in_shape):\n    pass\n"},
        "net((1, 8, 8), 3) raised TypeError: net() takes 1 positional argument but 2 were given",
    ),
    (
        "my_models:net",
        {"my_models.py": "def net(in_shape, num_classes):\n    return {'layers': 2}\n"},
        "net((1, 8, 8), 3) returned a dict, expected a torch.nn.Module",
    ),
    (
        "my_models:net",
        {"my_models.py": "def net(in_shape, num_classes):\n    pass\n"},
        "net((1, 8, 8), 3) returned None, expected a torch.nn.Module",
    ),
]


@pytest.mark.parametrize("arch, sources, message", FAILURES)
def test_every_failure_of_a_user_architecture_is_one_line_naming_model_arch(workdir, tmp_path, arch, sources, message):
    for name, source in sources.items():
        workdir(name, source)
    with pytest.raises(ArchitectureError) as caught:
        architectures.build_model({"arch": arch}, IN_SHAPE, 3, [0.5], [0.25])
    text = str(caught.value)
    assert "\n" not in text, text
    assert text.startswith(f"model.arch {arch!r}: " + message.format(tmp=tmp_path)), text
    assert isinstance(caught.value, ReportedError) and isinstance(caught.value, ValueError)


def test_a_failing_user_function_keeps_its_traceback_for_the_log(workdir):
    workdir("my_models.py", "def net(in_shape, num_classes):\n    raise ValueError('needs 3 channels')\n")
    with pytest.raises(ArchitectureError) as caught:
        architectures.build_model({"arch": "my_models:net"}, IN_SHAPE, 3, [0.5], [0.25])
    assert isinstance(caught.value.__cause__, ValueError)


def test_a_name_neither_built_in_nor_an_import_path_is_refused_in_one_line():
    with pytest.raises(ArchitectureError, match=r"^model.arch must be one of .* or an import path .*, got 'vit'$"):
        architectures.build_model({"arch": "vit"}, IN_SHAPE, 3, [0.5], [0.25])
    with pytest.raises(ArchitectureError, match=r"^model.arch 'my_models.py': expected one of mlp, cnn"):
        architectures.user_architecture("my_models.py")
