"""White-box and noisy-query signals of trained models (torch), for the paper's Fig. 15 and two
Table I baselines that need more than the cached logits:

- gradient_norms: per example, the L2 norm of the gradient of the cross-entropy loss with respect
  to every parameter (Fig. 15: members sit where the loss is flat, so their gradients are small);
- merlin_scores: Jayaraman et al.'s MERLIN, the fraction of Gaussian-noised copies of an example
  whose loss exceeds the loss at the example itself (members sit in loss minima).

The job functions (gradient_norm_block, merlin_block, merlin_noise_choice) read a block's weights
as lira.models.jobs.query_block does, checked against the sha256 its train job recorded.
"""

from __future__ import annotations

import logging
import time

import numpy as np
import torch
from torch import nn
from torch.func import functional_call, grad, vmap
from torch.nn import functional as F

from lira.core import metrics, splits
from lira.models import devices, images, weights
from lira.models.architectures import build_model, memory_format
from lira.workflow import artifacts, files

# Part of every MERLIN noise seed, so that its draws share no stream with training or the pool.
MERLIN_STREAM = 0x4D45524C


def _example_loss(model: nn.Module, params: dict, buffers: dict, image: torch.Tensor, label: torch.Tensor):
    """The cross-entropy of one example [C, H, W] under `params`, as a 0-d tensor."""
    logits = functional_call(model, (params, buffers), (image.unsqueeze(0),))
    return F.cross_entropy(logits, label.unsqueeze(0))


def gradient_norms(model: nn.Module, inputs: torch.Tensor, labels: torch.Tensor, batch_size: int) -> np.ndarray:
    """Per example, ||d loss(x, y) / d theta||_2 over every parameter theta of `model` (eval mode,
    float32): float32 [n]. Per-example gradients of a batch at once (torch.func: vmap of grad of
    a functional_call), their squared norms summed over the parameters, never stored whole."""
    model.eval()
    params = {name: p.detach() for name, p in model.named_parameters()}
    buffers = {name: b.detach() for name, b in model.named_buffers()}
    per_example = vmap(grad(lambda p, x, y: _example_loss(model, p, buffers, x, y)), in_dims=(None, 0, 0))
    norms = []
    for start in range(0, inputs.shape[0], batch_size):
        gradients = per_example(params, inputs[start : start + batch_size], labels[start : start + batch_size])
        squared = sum(g.flatten(1).square().sum(dim=1) for g in gradients.values())  # [batch]
        norms.append(squared.sqrt().cpu())
    return torch.cat(norms).numpy().astype(np.float32) if norms else np.zeros(0, np.float32)


def stable_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Cross-entropy in float64 as softplus(logsumexp_{c != y} z_c - z_y): F.cross_entropy in
    float32 rounds the loss of a confidently classified example to exactly 0, where MERLIN's
    comparison of losses needs it distinct from its noisy copies' losses. [B, classes] -> [B]."""
    z = logits.double()
    true = z.gather(1, labels[:, None])[:, 0]
    others = z.scatter(1, labels[:, None], float("-inf")).logsumexp(dim=1)
    return F.softplus(others - true, threshold=30.0)


def noise_seed(seed: int, model_index: int, example: int) -> int:
    """The seed of the noise MERLIN adds to `example` for model `model_index`: from the
    experiment's seed, the model and the example only, so any batching draws the same noise."""
    return int(np.random.SeedSequence([seed, model_index, example, MERLIN_STREAM]).generate_state(1)[0])


def merlin_noise(seed: int, model_index: int, example: int, draws: int, shape) -> torch.Tensor:
    """Standard normal noise float32 [draws, *shape] for (model, example), on the CPU."""
    generator = torch.Generator().manual_seed(noise_seed(seed, model_index, example))
    return torch.randn((draws, *shape), generator=generator)


@torch.no_grad()
def merlin_scores(
    model: nn.Module,
    inputs: torch.Tensor,
    labels: torch.Tensor,
    examples,
    noise_scale: float,
    draws: int,
    seed: int,
    model_index: int,
    batch_size: int,
) -> np.ndarray:
    """MERLIN (Jayaraman et al.): per example x, the fraction of `draws` copies x + noise_scale * e,
    e ~ N(0, I) (merlin_noise), whose loss exceeds the loss at x (strictly; stable_loss), model in
    eval mode: float64 [n], higher = member. `examples`: the pool indices of `inputs`' rows,
    which with (seed, model_index) seed their noise. No clipping to the image range: the noise
    probes the loss surface around x, wherever it leads."""
    model.eval()
    examples = np.asarray(examples)
    per_batch = max(1, batch_size // max(draws, 1))  # examples per forward pass of their copies
    scores = np.empty(len(examples))
    for start in range(0, len(examples), per_batch):
        rows = slice(start, min(start + per_batch, len(examples)))
        x, y = inputs[rows], labels[rows]
        noise = torch.stack([merlin_noise(seed, model_index, int(e), draws, x.shape[1:]) for e in examples[rows]])
        noisy = (x[:, None] + noise_scale * noise.to(x.device)).flatten(0, 1)  # [b * draws, C, H, W]
        clean_loss = stable_loss(model(x), y)  # [b]
        noisy_loss = stable_loss(model(noisy), y.repeat_interleave(draws)).view(len(y), draws)
        scores[rows] = (noisy_loss > clean_loss[:, None]).double().mean(dim=1).cpu().numpy()
    return scores


# --- jobs ------------------------------------------------------------------------------------------


def _block_states(pool_path, weights_path, metrics_path, block: str, seed: int):
    """(pool, fingerprint, per-model state dicts) of block `block`, its weights checked against the
    sha256 models/<block>.json records, as lira.models.jobs.query_block reads them."""
    models = splits.block_models(block)
    pool = artifacts.load_pool(pool_path)
    fingerprint = artifacts.expected_fingerprint(pool_path, seed)
    trained = artifacts.load_json(metrics_path, fingerprint)
    described = [m.get("model") for m in trained.get("models", [])]
    if described != list(models):
        raise artifacts.ArtifactError(f"{metrics_path}: describes models {described}, not {list(models)}")
    data = artifacts.read_checked_bytes(weights_path, trained.get("sha256"), metrics_path, artifacts.block_remedy(weights_path))
    return pool, fingerprint, weights.model_states(weights_path, weights.load_weights(weights_path, data), models)


def _model(model_spec: dict, pool: dict, state: dict, device) -> nn.Module:
    model = build_model(model_spec, pool["x"].shape[1:], int(pool["num_classes"]), pool["mean"], pool["std"])
    model.load_state_dict(state)
    return model.to(device, memory_format=memory_format(model_spec)).eval()


def gradient_norm_block(
    pool_path, weights_path, metrics_path, norms_path, info_path, block: str, seed: int, model_spec: dict,
    compute: dict, threads: int, batch_size: int, log: logging.Logger,
) -> dict:  # fmt: skip
    """models/<block>.pt -> gradient_norms/<block>.npy, float32 [models, pool] (gradient_norms of
    every model of the block on every pool example, identity query), with its sidecar .json."""
    torch.set_num_threads(threads)
    device = devices.select_device(compute["device"], log)
    pool, fingerprint, states = _block_states(pool_path, weights_path, metrics_path, block, seed)
    inputs = images.to_float_images(pool["x"], device)
    labels = torch.from_numpy(pool["y"]).long().to(device)
    norms, seconds = [], []
    for model_index, state in sorted(states.items()):
        start = time.perf_counter()
        norms.append(gradient_norms(_model(model_spec, pool, state, device), inputs, labels, batch_size))
        seconds.append(time.perf_counter() - start)
        log.info("model %d: gradient norms in %.1f s, median %.3g", model_index, seconds[-1], np.median(norms[-1]))
    stacked = np.stack(norms)  # [models, pool]
    info = {"fingerprint": fingerprint, "models": sorted(states), "seconds": seconds}
    artifacts.write_array_with_info(norms_path, info_path, stacked, **info)
    return info


def merlin_block(
    pool_path, weights_path, metrics_path, noise_path, scores_path, info_path, block: str, targets: int, seed: int,
    model_spec: dict, draws: int, compute: dict, threads: int, log: logging.Logger,
) -> dict:  # fmt: skip
    """models/<block>.pt -> merlin/<block>.npy, float64 [models, pool]: MERLIN scores of the block's
    models that are targets (index < `targets`), the noise scale read from merlin/noise.json."""
    torch.set_num_threads(threads)
    device = devices.select_device(compute["device"], log)
    pool, fingerprint, states = _block_states(pool_path, weights_path, metrics_path, block, seed)
    noise_scale = float(files.read_json(noise_path)["noise_scale"])
    inputs = images.to_float_images(pool["x"], device)
    labels = torch.from_numpy(pool["y"]).long().to(device)
    examples = np.arange(len(labels))
    models = [m for m in sorted(states) if m < targets]
    scores, seconds = [], []
    for model_index in models:
        start = time.perf_counter()
        model = _model(model_spec, pool, states[model_index], device)
        scores.append(
            merlin_scores(model, inputs, labels, examples, noise_scale, draws, seed, model_index, compute["eval_batch_size"])
        )
        seconds.append(time.perf_counter() - start)
        log.info("model %d: MERLIN scores in %.1f s (noise %.3g, %d draws)", model_index, seconds[-1], noise_scale, draws)
    stacked = np.stack(scores)  # [target models of the block, pool]
    info = {"fingerprint": fingerprint, "models": models, "noise_scale": noise_scale, "draws": draws, "seconds": seconds}
    artifacts.write_array_with_info(scores_path, info_path, stacked, **info)
    return info


def merlin_noise_choice(
    pool_path, weights_path, metrics_path, output_path, block: str, model_index: int | None, seed: int,
    model_spec: dict, candidates: list[float], default: float, draws: int, examples: int, compute: dict,
    threads: int, log: logging.Logger,
) -> dict:  # fmt: skip
    """Choose MERLIN's noise scale on a shadow model that is no target (`model_index`, in block
    `block`): the candidate whose scores on `examples` seeded pool examples have the highest AUC
    against that model's membership. None (every model is a target): `default`, unchosen.
    Writes merlin/noise.json: the scale, and each candidate's AUC."""
    if model_index is None:
        record = {"noise_scale": default, "chosen_on": None, "candidates": {}}
        log.info("every model is a target: MERLIN's noise scale is the default %.3g", default)
        files.write_json(output_path, record)
        return record
    torch.set_num_threads(threads)
    device = devices.select_device(compute["device"], log)
    pool, _, states = _block_states(pool_path, weights_path, metrics_path, block, seed)
    n = len(pool["y"])
    chosen = np.sort(np.random.default_rng([seed, model_index, MERLIN_STREAM]).choice(n, min(examples, n), replace=False))
    member = splits.keep_mask(seed, model_index, n)[chosen]
    inputs = images.to_float_images(pool["x"][chosen], device)
    labels = torch.from_numpy(pool["y"][chosen]).long().to(device)
    model = _model(model_spec, pool, states[model_index], device)
    aucs = {}
    for scale in candidates:
        scores = merlin_scores(model, inputs, labels, chosen, scale, draws, seed, model_index, compute["eval_batch_size"])
        aucs[str(scale)] = metrics.auc(metrics.roc_curve(scores, member))
        log.info("noise %.3g: AUC %.4f on model %d", scale, aucs[str(scale)], model_index)
    best = max(candidates, key=lambda scale: aucs[str(scale)])
    record = {"noise_scale": float(best), "chosen_on": {"model": model_index, "examples": len(chosen)}, "candidates": aucs}
    files.write_json(output_path, record)
    return record
