"""The workflow's two torch jobs, one block of models each (lira.core.splits.model_blocks).

train_block trains the block's models one after another in one process, so the Python start-up
and torch import are paid once per block, not once per model. query_block computes their logits
on every pool example under every query. The scripts in scripts/ only pass Snakemake's paths and
settings to these functions.
"""

from __future__ import annotations

import hashlib
import logging
import time
from pathlib import Path

import numpy as np
import torch

from lira.core import splits
from lira.core.queries import query_set
from lira.models import devices, images, querying, training, weights
from lira.models.architectures import ArchitectureError, build_model, memory_format
from lira.workflow import artifacts, files


def train_block(
    pool_path,
    weights_path,
    metrics_path,
    block: str,
    seed: int,
    model_spec: dict,
    recipe: dict,
    compute: dict,
    threads: int,
    log: logging.Logger,
    split: dict | None = None,
) -> list[dict]:
    """Train the models of `block` on their halves of the pool and write models/<block>.pt (every
    model's state dict, lira.models.weights.block_state) and models/<block>.json (the fingerprint,
    the sha256 of models/<block>.pt, which the logits job checks before loading it, and each
    model's metrics: loss and seconds per epoch, device, and accuracy on the data.holdout_size
    test images if any). Returns the models' metrics.

    Each model checkpoints to <results>/checkpoints/<model>.pt every compute.checkpoint_every
    epochs and after its last one (not a declared output: Snakemake deletes a failed job's
    outputs, and the checkpoints must outlive a failure) and resumes from it, so a rerun after a
    kill skips the block's finished models and continues the interrupted one. The checkpoints are
    deleted once the block's files are written.

    `split` (lira.core.splits.part_mask): the part of the pool the models train on, None for the
    whole pool; its "shift" (lira.models.images.shift_distribution), if any, transforms their
    training images (never the images they are queried on).
    """
    torch.set_num_threads(threads)
    models = splits.block_models(block)
    device = devices.select_device(compute["device"], log)
    pool = artifacts.load_pool(pool_path)  # its content hash recomputed
    # Recorded with the weights; the logits job refuses weights of another pool, seed or split design.
    fingerprint = artifacts.expected_fingerprint(pool_path, seed)
    all_images = images.to_float_images(pool["x"], device)  # [pool, C, H, W], once for the block
    all_labels = torch.from_numpy(pool["y"]).to(device)
    holdout_images = images.to_float_images(pool["holdout_x"], device)
    holdout_labels = torch.from_numpy(pool["holdout_y"]).to(device)
    checkpoints = Path(weights_path).parent.parent / "checkpoints"

    states, metrics, finished = {}, [], []  # finished: each model's Checkpoint, removed at the end
    for model_index in models:
        keep = splits.keep_mask(seed, model_index, len(pool["y"]), split)  # bool [pool]
        members = np.flatnonzero(keep)
        model_seed = splits.model_seed(seed, model_index)
        torch.manual_seed(model_seed)
        model = build_model(model_spec, pool["x"].shape[1:], int(pool["num_classes"]), pool["mean"], pool["std"])
        model = model.to(device, memory_format=memory_format(model_spec))
        log.info("model %d: %d training examples on %s", model_index, len(members), device)
        settings = {
            "model_seed": model_seed,
            "model": model_spec,
            "recipe": recipe,
            "device": device.type,  # a generator's state only restores on its own kind of device
        }
        checkpoint = training.Checkpoint(
            path=checkpoints / f"{model_index}.pt",
            every=compute["checkpoint_every"],
            key=training.checkpoint_key(settings, pool["x"][members], pool["y"][members], pool["mean"], pool["std"]),
        )
        finished.append(checkpoint)
        start = time.perf_counter()
        train_images = all_images[members]  # [members, C, H, W]
        if split and split.get("shift"):
            train_images = images.shift_distribution(train_images, split["shift"])
        result = training.train(
            model, train_images, all_labels[members], recipe, seed=model_seed, checkpoint=checkpoint, log=log
        )
        seconds = time.perf_counter() - start
        holdout_accuracy = (
            querying.accuracy(model, holdout_images, holdout_labels, compute["eval_batch_size"])
            if len(holdout_labels)
            else None
        )
        metrics.append(
            {
                "model": model_index,
                "train_examples": len(members),
                # The accuracies on the pool's members and non-members come from the logits job's
                # identity query.
                "holdout_accuracy": holdout_accuracy,
                "epoch_loss": result.epoch_loss,
                "epoch_seconds": result.epoch_seconds,
                "resumed_from_epoch": result.resumed_from_epoch,
                "train_seconds": seconds,
                "device": str(device),
                "threads": threads,
                # What the timings depend on, for lira.tools.plan to use them only for the same settings.
                "settings": {"model": model_spec, "train": recipe},
                # DP-SGD: the guarantee the recipe gives (lira.models.dp_sgd); absent without train.dp.
                **({"privacy": result.privacy} if result.privacy else {}),
            }
        )
        states[model_index] = {name: tensor.cpu() for name, tensor in model.state_dict().items()}
        log.info("model %d: trained in %.1f s, test-set accuracy %s", model_index, seconds, holdout_accuracy)

    sha256 = weights.save_block_weights(weights_path, states)
    files.write_json(metrics_path, {"fingerprint": fingerprint, "block": block, "models": metrics, "sha256": sha256})
    for checkpoint in finished:
        checkpoint.remove()
    return metrics


def query_block(
    pool_path,
    weights_path,
    metrics_path,
    logits_path,
    info_path,
    block: str,
    seed: int,
    model_spec: dict,
    query_settings: dict,
    compute: dict,
    threads: int,
    log: logging.Logger,
    split: dict | None = None,
) -> dict:
    """Query the models of `block` on every pool example under every query of `query_settings`
    and write logits/<block>.npy, float32 [models, pool, queries, classes] in model order, with
    its sidecar logits/<block>.json (fingerprint, models, shape, sha256; lira.workflow.artifacts),
    each model's inference seconds, and its accuracy on the pool examples it trained on and on
    those it did not (from the identity query, so for free). Returns the sidecar's entries.

    The weights are read once and checked against the sha256 that models/<block>.json records
    (written by the train job with them) before they are unpickled.
    """
    torch.set_num_threads(threads)
    models = splits.block_models(block)
    device = devices.select_device(compute["device"], log)
    pool = artifacts.load_pool(pool_path)  # its content hash recomputed
    fingerprint = artifacts.expected_fingerprint(pool_path, seed)
    trained = artifacts.load_json(metrics_path, fingerprint)  # weights of this pool and split design
    described = [m.get("model") for m in trained.get("models", [])]
    if described != list(models):
        raise artifacts.ArtifactError(f"{metrics_path}: describes models {described}, not {list(models)}")
    data = artifacts.read_checked_bytes(
        weights_path, trained.get("sha256"), metrics_path, artifacts.block_remedy(weights_path)
    )
    states = weights.model_states(weights_path, weights.load_weights(weights_path, data), models)

    queries = query_set(query_settings["mirror"], query_settings["shift"], query_settings["stride"])
    pool_images = images.to_float_images(pool["x"], device)
    logits = []  # per model: float32 [pool, queries, classes]
    inference_seconds = []  # the forward passes alone, per model
    train_accuracy, nonmember_accuracy = [], []
    for model_index in models:
        model = build_model(model_spec, pool["x"].shape[1:], int(pool["num_classes"]), pool["mean"], pool["std"])
        model.load_state_dict(states[model_index])
        model = model.to(device, memory_format=memory_format(model_spec))
        start = time.perf_counter()
        logits.append(
            querying.predict_logits(model, pool_images, queries, query_settings["padding"], compute["eval_batch_size"])
        )
        inference_seconds.append(time.perf_counter() - start)
        members = splits.keep_mask(seed, model_index, len(pool["y"]), split)
        correct = logits[-1][:, 0].argmax(axis=-1) == pool["y"]  # query 0: the images as they are
        train_accuracy.append(float(correct[members].mean()))
        nonmember_accuracy.append(float(correct[~members].mean()))
    stacked = np.stack(logits)  # [models, pool, queries, classes]
    info = {
        "fingerprint": fingerprint,
        "models": list(models),
        "queries": len(queries),
        "inference_seconds": inference_seconds,
        "train_accuracy": train_accuracy,
        "nonmember_accuracy": nonmember_accuracy,
    }
    artifacts.write_array_with_info(logits_path, info_path, stacked, **info)
    log.info("logits %s of models %s for %d queries %s", stacked.shape, list(models), len(queries), queries)
    train_seconds = sum(m["train_seconds"] for m in trained["models"])
    files.announce(
        log,
        "block %s: %d models trained in %.0f s; accuracy on members %.3f, on non-members %.3f (mean)",
        block,
        len(models),
        train_seconds,
        float(np.mean(train_accuracy)),
        float(np.mean(nonmember_accuracy)),
    )
    return info


def _arch_label(model_spec: dict) -> str:
    """model.arch and its settings, for errors: "mlp with width 32", "my_models:net"."""
    settings = ", ".join(f"{key} {value}" for key, value in model_spec.items() if key != "arch")
    return f"{model_spec['arch']} with {settings}" if settings else str(model_spec["arch"])


def query_target(
    pool_path,
    weights_path,
    logits_path,
    info_path,
    seed: int,
    model_spec: dict,
    query_settings: dict,
    compute: dict,
    threads: int,
    log: logging.Logger,
) -> dict:
    """Query a target model trained outside the workflow, its weights in `weights_path` (a state
    dict: .safetensors, or torch.save(model.state_dict()); lira.models.weights.load_target_weights),
    on every pool example under every query of `query_settings`, as query_block queries a block's
    models, and write its logits, float32 [1, pool, queries, classes] (model 0), with their sidecar
    (fingerprint, the weights file and its sha256, the model and query settings, the inference
    seconds and the accuracy on the pool from the identity query). Returns the sidecar's entries.

    The model is build_model(model_spec) for the pool's images and classes, and the weights must
    fit it exactly (lira.models.weights.fit_target_weights): a built-in architecture's state dict
    carries its input normalisation (0.mean, 0.std), so those come from the file. The file is
    read once; its sha256 is of the bytes loaded.
    """
    torch.set_num_threads(threads)
    device = devices.select_device(compute["device"], log)
    pool = artifacts.load_pool(pool_path)  # its content hash recomputed
    fingerprint = artifacts.expected_fingerprint(pool_path, seed)
    try:
        data = Path(weights_path).read_bytes()
    except OSError as error:
        raise artifacts.ArtifactError(f"{weights_path}: unreadable ({error.strerror or error})") from None
    state = weights.load_target_weights(weights_path, data)
    num_classes = int(pool["num_classes"])
    model = build_model(model_spec, pool["x"].shape[1:], num_classes, pool["mean"], pool["std"])
    weights.fit_target_weights(model, state, weights_path, _arch_label(model_spec))
    model = model.to(device, memory_format=memory_format(model_spec))

    queries = query_set(query_settings["mirror"], query_settings["shift"], query_settings["stride"])
    pool_images = images.to_float_images(pool["x"], device)
    start = time.perf_counter()
    logits = querying.predict_logits(model, pool_images, queries, query_settings["padding"], compute["eval_batch_size"])
    inference_seconds = time.perf_counter() - start
    expected_shape = (len(pool["y"]), len(queries), num_classes)
    if logits.shape != expected_shape:  # a user's architecture may return anything
        raise ArchitectureError(
            f"model.arch {model_spec['arch']!r}: the model gives logits of shape {list(logits.shape[2:])} per "
            f"image, expected [{num_classes}] (the pool's classes)"
        )
    pool_accuracy = float((logits[:, 0].argmax(axis=-1) == pool["y"]).mean())  # query 0: the images as they are
    stacked = logits[np.newaxis]  # [1, pool, queries, classes]
    info = {
        "fingerprint": fingerprint,
        "models": [0],
        "queries": len(queries),
        "source": "weights",
        "weights": str(weights_path),
        "weights_sha256": hashlib.sha256(data).hexdigest(),
        "model": model_spec,
        "query_settings": query_settings,
        "inference_seconds": [inference_seconds],
        "pool_accuracy": pool_accuracy,
    }
    artifacts.write_array_with_info(logits_path, info_path, stacked, **info)
    log.info(
        "target logits %s from %s for %d queries on %s in %.1f s; accuracy on the pool %.3f",
        stacked.shape,
        weights_path,
        len(queries),
        device,
        inference_seconds,
        pool_accuracy,
    )
    return info
