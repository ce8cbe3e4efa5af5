"""Snakemake adapter: dataset files -> results/<experiment>/pool.npz."""

from lira.workflow import artifacts, datasets, files

log = files.job_logger(snakemake.log[0])
data = snakemake.config["data"]
if data["download"]:  # the config check made sure data.directory is set
    from lira.workflow.download import download

    download(data["dataset"], data["directory"])

dataset = datasets.load_dataset(snakemake.params.dataset, data["directory"], file=snakemake.params.get("file"))
log.info("%s: %d training and %d test images", dataset.name, len(dataset.train.labels), len(dataset.test.labels))
params = snakemake.params
pool = datasets.make_pool(dataset, params.pool_size, params.holdout_size, params.seed, params.get("canaries"))
# Every later artifact carries a fingerprint derived from this hash (lira.workflow.artifacts).
pool["content_hash"] = artifacts.content_hash(pool)
files.save_arrays(snakemake.output[0], **pool)
log.info(
    "pool: %d examples %s, %d held out; fingerprint %s",
    len(pool["y"]),
    pool["x"].shape[1:],
    len(pool["holdout_y"]),
    artifacts.fingerprint(pool["content_hash"], snakemake.params.seed),
)
