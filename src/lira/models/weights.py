"""Model weights on disk: one file per block of models, saved and loaded as tensors only.

A block's weights are one flat state dict {"<model>/<tensor name>": tensor}, so the file stays
loadable with torch.load(weights_only=True): a file that carries any other pickled object (which
could run code while loading) is refused unrun. save_block_weights returns the file's sha256,
which the train job records in models/<block>.json; the logits job checks the file's bytes
against it (lira.workflow.artifacts.read_checked_bytes) and loads those very bytes.

A target model trained outside the workflow comes as one state dict {name: tensor}: a
.safetensors file, or a torch.save(model.state_dict()) file loaded weights-only like a block's
(load_target_weights), and must fit the model its config builds exactly (fit_target_weights).
"""

from __future__ import annotations

import hashlib
import io
import pickle
import re
from pathlib import Path

import torch
from torch import nn

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


def _refusal(path, detail: str) -> str:
    return (
        f"{path}: refused: not a weights-only checkpoint (it holds pickled objects other than tensors, "
        f"which could run code when loaded): {detail}"
    )


def _load_tensors_only(path, data: bytes | None, refusal) -> object:
    """What torch.save wrote to `path` (or `data`, its bytes), unpickled weights-only: a pickled
    object other than tensors and plain containers is refused unrun, with the one-line message
    refusal(path, detail), detail the unpickler's line naming the refused global."""
    try:
        return torch.load(path if data is None else io.BytesIO(data), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        lines = [line.strip() for line in str(error).splitlines() if line.strip()]
        detail = next((line for line in lines if "global" in line.lower()), lines[-1] if lines else type(error).__name__)
        raise ArtifactError(refusal(path, detail)) from None
    except (RuntimeError, OSError, EOFError, ValueError) as error:
        raise ArtifactError(f"{path}: unreadable checkpoint ({str(error).splitlines()[0] if str(error) else error!r})") from None


def _is_state_dict(value) -> bool:
    return isinstance(value, dict) and all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in value.items())


def load_weights(path, data: bytes | None = None) -> dict:
    """A state dict of tensors saved by torch.save, loaded weights-only: a file that carries any
    other pickled object (which could run code while loading) is refused, unrun. `data`: the
    file's bytes, already read (and checked), else the file `path` is read."""
    state = _load_tensors_only(path, data, _refusal)
    if not _is_state_dict(state):
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


# --- a target model's weights ------------------------------------------------------------------------

_EXPECTED = "expected a state dict of tensors (safetensors, or torch.save(model.state_dict()))"


def _target_refusal(path, detail: str) -> str:
    """A torch file the weights-only loader refused: a whole pickled torch.nn model said as such
    (the usual mistake: torch.save(model)), any other object as load_weights says it."""
    found = re.search(r"GLOBAL (\S+)", detail)
    if found and found.group(1).startswith("torch.nn.modules."):
        return f"{path}: {_EXPECTED}, found a whole pickled model ({found.group(1)}), refused unrun"
    return _refusal(path, f"GLOBAL {found.group(1)}" if found else detail) + f"; {_EXPECTED}"


def _describe(value) -> str:
    """What a torch file holds instead of a state dict, in a few words."""
    if not isinstance(value, dict):
        return f"a {type(value).__name__}"
    if not all(isinstance(key, str) for key in value):
        kinds = sorted({type(key).__name__ for key in value if not isinstance(key, str)})
        return f"a dict with {', '.join(kinds)} keys"
    others = [f"{key!r} ({type(item).__name__})" for key, item in value.items() if not isinstance(item, torch.Tensor)]
    more = f" and {len(others) - 3} more" if len(others) > 3 else ""
    return f"a dict whose entries {', '.join(others[:3])}{more} are not tensors"


def load_target_weights(path, data: bytes | None = None) -> dict[str, torch.Tensor]:
    """A target model's state dict {name: tensor}, on the CPU, from `path` (or `data`, its bytes,
    already read): a file ending in .safetensors read as safetensors; any other file as torch.save
    wrote it, loaded weights-only (load_weights: a pickle carrying code is refused unrun), holding
    the state dict itself or {"state_dict": state dict}. Every floating tensor must be finite."""
    if str(path).endswith(".safetensors"):
        state = _load_safetensors(path, data)
    else:
        state = _load_tensors_only(path, data, _target_refusal)
        if isinstance(state, dict) and list(state) == ["state_dict"]:
            state = state["state_dict"]
        if not _is_state_dict(state):
            raise ArtifactError(f"{path}: {_EXPECTED}, found {_describe(state)}")
    for name, tensor in state.items():
        if tensor.is_floating_point() or tensor.is_complex():
            if tensor.is_floating_point() and tensor.element_size() == 1:
                tensor = tensor.float()  # float8 formats: isfinite has no kernel for them
            bad = ~torch.isfinite(tensor)
            if bad.any():
                nans = int(torch.isnan(tensor).sum())
                raise ArtifactError(
                    f"{path}: tensor {name} holds {nans} NaN and {int(bad.sum()) - nans} infinite values; "
                    "expected finite weights"
                )
    return state


def _load_safetensors(path, data: bytes | None) -> dict[str, torch.Tensor]:
    try:
        from safetensors import SafetensorError
        from safetensors.torch import load
    except ImportError:
        raise ArtifactError(
            f"{path}: reading a .safetensors file needs the package safetensors (pip install safetensors)"
        ) from None
    if data is None:
        try:
            data = Path(path).read_bytes()
        except OSError as error:
            raise ArtifactError(f"{path}: unreadable ({error.strerror or error})") from None
    try:
        return load(data)
    except (SafetensorError, ValueError, RuntimeError) as error:
        lines = [line.strip() for line in str(error).splitlines() if line.strip()]
        detail = lines[0] if lines else type(error).__name__
        raise ArtifactError(f"{path}: not a readable safetensors file ({detail}); {_EXPECTED}") from None


def _names(names: list[str]) -> str:
    """The first 3 of `names`, and how many more."""
    more = f", and {len(names) - 3} more" if len(names) > 3 else ""
    return ", ".join(names[:3]) + more


def fit_target_weights(model: nn.Module, state: dict[str, torch.Tensor], path, arch_label: str) -> None:
    """Load `state` (from the file `path`) into `model` (built for model.arch `arch_label`), which
    it must fit exactly: the same tensor names and shapes. A mismatch is one line naming the file
    and the architecture: the tensors missing from the file (in the model's order), those the
    model has not (in the file's), the first 3 of each and their counts, and the first tensor of
    another shape."""
    expected = model.state_dict()
    missing = [name for name in expected if name not in state]
    unexpected = [name for name in state if name not in expected]
    reshaped = [
        f"{name} is {list(state[name].shape)} in the file, {list(tensor.shape)} in the model"
        for name, tensor in expected.items()
        if name in state and state[name].shape != tensor.shape
    ]
    problems = []
    if missing:
        problems.append(f"{len(missing)} of the model's tensors missing ({_names(missing)})")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected ({_names(unexpected)})")
    if reshaped:
        problems.append(reshaped[0] + (f" ({len(reshaped)} tensors of another shape)" if len(reshaped) > 1 else ""))
    if problems:
        raise ArtifactError(f"{path}: weights do not fit model.arch {arch_label}: {'; '.join(problems)}")
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as error:  # a check of a module's own (e.g. a user's _load_from_state_dict)
        lines = [line.strip() for line in str(error).splitlines() if line.strip()]
        detail = " ".join(lines)[:500] if lines else type(error).__name__
        raise ArtifactError(f"{path}: weights do not fit model.arch {arch_label}: {detail}") from None
