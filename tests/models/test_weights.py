"""lira.models.weights: a block of models' weights as one file of tensors only, saved atomically and
loaded weights-only (a planted pickle is refused without running it)."""

from __future__ import annotations

import numpy as np
import pytest
from formats import CodeRunningPickle

from lira.workflow.artifacts import ArtifactError

torch = pytest.importorskip("torch")

from lira.models import weights  # noqa: E402


def test_block_state_round_trips_and_names_the_models():
    states = {4: {"0.mean": np.zeros(1), "1.weight": np.ones((2, 2))}, 5: {"0.mean": np.ones(1), "1.weight": np.zeros((2, 2))}}
    flat = weights.block_state(states)
    assert sorted(flat) == ["4/0.mean", "4/1.weight", "5/0.mean", "5/1.weight"]
    back = weights.model_states("models/4-5.pt", flat, range(4, 6))
    assert sorted(back) == [4, 5] and all(back[m][name] is states[m][name] for m in states for name in states[m])
    with pytest.raises(ArtifactError, match=r"models/4-5.pt: holds the weights of models \[4, 5\], expected \[4, 5, 6\]"):
        weights.model_states("models/4-5.pt", flat, range(4, 7))
    with pytest.raises(ArtifactError, match="not a block of models' weights"):
        weights.model_states("models/4-5.pt", {"1.weight": np.ones(1)}, range(4, 6))


def test_save_block_weights_round_trips_and_leaves_no_part_file(tmp_path):
    torch.manual_seed(0)
    states = {m: {"0.weight": torch.randn(3, 2), "0.bias": torch.randn(3)} for m in (4, 5)}
    path = tmp_path / "models" / "4-5.pt"
    weights.save_block_weights(path, states)
    assert sorted(p.name for p in path.parent.iterdir()) == ["4-5.pt"]
    loaded = weights.model_states(path, weights.load_weights(path), range(4, 6))
    assert sorted(loaded) == [4, 5]
    for model, state in states.items():
        assert sorted(loaded[model]) == sorted(state)
        assert all(torch.equal(loaded[model][name], tensor) for name, tensor in state.items())


def test_weights_load_and_a_planted_pickle_is_refused_without_running_it(tmp_path):
    state = {"layer.weight": torch.ones(2, 2), "layer.bias": torch.zeros(2)}
    torch.save(state, tmp_path / "good.pt")
    loaded = weights.load_weights(tmp_path / "good.pt")
    assert set(loaded) == set(state) and torch.equal(loaded["layer.weight"], state["layer.weight"])

    marker = tmp_path / "code-ran"
    torch.save({**state, "extra": CodeRunningPickle(marker)}, tmp_path / "planted.pt")
    with pytest.raises(ArtifactError, match=r"planted\.pt: refused: not a weights-only checkpoint .*GLOBAL posix\.system"):
        weights.load_weights(tmp_path / "planted.pt")
    assert not marker.exists()
    # The payload is real: an unsafe load would have run it.
    torch.load(tmp_path / "planted.pt", weights_only=False)
    assert marker.exists()

    torch.save([torch.ones(1)], tmp_path / "list.pt")
    with pytest.raises(ArtifactError, match=r"list\.pt: expected a state dict of tensors, found list"):
        weights.load_weights(tmp_path / "list.pt")
    (tmp_path / "cut.pt").write_bytes((tmp_path / "good.pt").read_bytes()[:100])
    with pytest.raises(ArtifactError, match=r"cut\.pt: unreadable checkpoint"):
        weights.load_weights(tmp_path / "cut.pt")
