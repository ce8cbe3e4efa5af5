"""Snakemake adapter: dataset files -> results/<experiment>/pool.npz."""

from lira import datasets, io

log = io.job_logger(snakemake.log[0])
data = snakemake.config["data"]
if data["download"]:
    if not data["directory"]:
        raise ValueError("data.download is true: set data.directory to the folder to download into")
    from lira.download import download

    download(data["dataset"], data["directory"])

dataset = datasets.load_dataset(snakemake.params.dataset, data["directory"])
log.info("%s: %d training and %d test images", dataset.name, len(dataset.train.labels), len(dataset.test.labels))
pool = datasets.make_pool(dataset, snakemake.params.pool_size, snakemake.params.holdout_size, snakemake.params.seed)
io.save_arrays(snakemake.output[0], **pool)
log.info("pool: %d examples %s, %d held out", len(pool["y"]), pool["x"].shape[1:], len(pool["holdout_y"]))
