"""Snakemake adapter: scores/<block>.npz of every block of models -> shadows/<statistic>.npy
[N, pool, queries] float32, shadows/keep.npy bool [N, pool], and shadows/info.json (fingerprint,
shapes).

Each block's scores are checked first (lira.artifacts): fingerprint of this pool and split
design, the block's model indices, shape [models, pool, queries], finite values."""

from pathlib import Path

import numpy as np

from lira import artifacts, io, splits

log = io.job_logger(snakemake.log[0])
paths = snakemake.input.scores
blocks = [splits.block_models(block) for block in snakemake.params.blocks]  # the files' models, in order
n_models = sum(len(models) for models in blocks)
seed = snakemake.params.seed
fingerprint = artifacts.expected_fingerprint(snakemake.input.pool, seed)
pool_size = len(artifacts.read_npz_entry(snakemake.input.pool, "y"))
names = [name for name in snakemake.output.keys() if name not in ("keep", "info")]


def load_scores(models, path, n_queries=None):
    scores = artifacts.load_npz(path, fingerprint)
    if list(scores.get("models", [])) != list(models):
        raise artifacts.ArtifactError(f"{path}: holds the scores of models {list(scores.get('models', []))}, not {list(models)}")
    for name in ("loss", *(name for name in names if name != "probability")):
        if name not in scores:
            raise artifacts.ArtifactError(f"{path}: no statistic {name!r}")
        artifacts.check_array(path, name, scores[name], (len(models), pool_size, n_queries))
    return scores


first = load_scores(blocks[0], paths[0])
n_queries = first["loss"].shape[2]
# Written through memory maps, one block at a time (memory stays O(block x pool x queries)), into .part
# files renamed into place once complete (a failure removes them).
parts = {name: Path(f"{snakemake.output[name]}.part.npy") for name in names}
try:
    stacks = {
        name: np.lib.format.open_memmap(parts[name], "w+", np.float32, (n_models, pool_size, n_queries)) for name in names
    }
    for index, (models, path) in enumerate(zip(blocks, paths, strict=True)):
        scores = first if index == 0 else load_scores(models, path, n_queries)
        scores["probability"] = np.exp(-scores["loss"].astype(np.float64))  # p_y, for RMIA
        for name in names:
            stacks[name][models.start : models.stop] = scores[name]
    for name in names:
        stacks[name].flush()
    del stacks
    for name in names:
        io.atomic_rename(parts[name], snakemake.output[name])
finally:
    for part in parts.values():
        part.unlink(missing_ok=True)
io.save_array(snakemake.output.keep, splits.keep_matrix(seed, n_models, pool_size))
io.write_json(
    snakemake.output.info,
    {"fingerprint": fingerprint, "models": n_models, "pool_size": pool_size, "queries": n_queries, "statistics": names},
)
log.info("stacked %s of %d models (%d blocks), pool %d, %d queries", names, n_models, len(blocks), pool_size, n_queries)
