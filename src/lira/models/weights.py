"""Model weights on disk: one file per block of models, saved and loaded as tensors only.

A block's weights are one flat state dict {"<model>/<tensor name>": tensor}, so the file stays
loadable with torch.load(weights_only=True): a file that carries any other pickled object (which
could run code while loading) is refused unrun. save_block_weights returns the file's sha256,
which the train job records in models/<block>.json; the logits job checks the file's bytes
against it (lira.workflow.artifacts.read_checked_bytes) and loads those very bytes.
"""

from __future__ import annotations

import hashlib
import io
import pickle

import torch

from lira.workflow import files
from lira.workflow.artifacts import ArtifactError


def block_state(states: dict[int, dict]) -> dict:
    """One flat state dict for a block of models, {"<model>/<tensor name>": tensor}: a file of
    tensors only, so it stays loadable weights-only (load_weights)."""
    return {f"{model}/{name}": tensor for model, state in states.items() for name, tensor in state.items()}


def model_states(path, state: dict, models) -> dict[int, dict]:
    """The per-model state dicts of a block_state, checked to hold exactly the models `models`."""
    states: dict[int, dict] = {}
    for key, tensor in state.items():
        model, _, name = key.partition("/")
        if not model.isdigit() or not name:
            raise ArtifactError(f"{path}: entry {key!r} is not '<model>/<tensor>': not a block of models' weights")
        states.setdefault(int(model), {})[name] = tensor
    if sorted(states) != list(models):
        raise ArtifactError(f"{path}: holds the weights of models {sorted(states)}, expected {list(models)}")
    return states


def load_weights(path, data: bytes | None = None) -> dict:
    """A state dict of tensors saved by torch.save, loaded weights-only: a file that carries any
    other pickled object (which could run code while loading) is refused, unrun. `data`: the
    file's bytes, already read (and checked), else the file `path` is read."""
    try:
        state = torch.load(path if data is None else io.BytesIO(data), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        lines = [line.strip() for line in str(error).splitlines() if line.strip()]
        detail = next((line for line in lines if "global" in line.lower()), lines[-1] if lines else type(error).__name__)
        raise ArtifactError(
            f"{path}: refused: not a weights-only checkpoint (it holds pickled objects other than tensors, "
            f"which could run code when loaded): {detail}"
        ) from None
    except (RuntimeError, OSError, EOFError, ValueError) as error:
        raise ArtifactError(f"{path}: unreadable checkpoint ({str(error).splitlines()[0] if str(error) else error!r})") from None
    if not isinstance(state, dict) or not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()):
        raise ArtifactError(f"{path}: expected a state dict of tensors, found {type(state).__name__}")
    return state


def save_block_weights(path, states: dict[int, dict]) -> str:
    """Write a block's state dicts {model: state dict} as one block_state file, atomically; returns
    the file's sha256."""
    buffer = io.BytesIO()
    torch.save(block_state(states), buffer)
    data = buffer.getvalue()
    with files.atomic_path(path) as temporary:
        temporary.write_bytes(data)
    return hashlib.sha256(data).hexdigest()
