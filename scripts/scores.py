"""Snakemake adapter: logits/<i>.npy -> scores/<i>.npz, each statistic float32 [pool, queries]."""

from lira import io
from lira.statistics import all_statistics

log = io.job_logger(snakemake.log[0])
labels = io.load_arrays(snakemake.input.pool)["y"]  # [pool]
logits = io.load_array(snakemake.input.logits)  # [pool, queries, classes]
if logits.ndim != 3 or logits.shape[0] != labels.shape[0]:
    raise ValueError(f"{snakemake.input.logits}: expected [{labels.shape[0]}, queries, classes], got {logits.shape}")
computed = all_statistics(logits, labels[:, None])
statistics = {name: computed[name].astype("float32") for name in snakemake.params.statistics}
io.save_arrays(snakemake.output[0], **statistics)
log.info("statistics %s of shape %s", sorted(statistics), logits.shape[:2])
