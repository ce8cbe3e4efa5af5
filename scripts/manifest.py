"""Snakemake adapter: the finished experiment -> results/<experiment>/manifest.json.

Provenance of everything in results/<experiment>/: the resolved config (defaults filled in) and
its hash (which the tables and figures print), the pool-and-split fingerprint every artifact
carries, the git commit of the workflow and whether its tree was dirty, package versions, the
device, threads and seconds of every training job, the seeds, and every benchmarked job's wall
time. Written last (it depends on every table and figure)."""

import datetime
from pathlib import Path

from lira import artifacts, io, provenance
from lira.config import config_hash

log = io.job_logger(snakemake.log[0])
config = snakemake.config
fingerprint = artifacts.expected_fingerprint(snakemake.input.pool, config["seed"])
# Each block's metrics file lists its models' metrics, and its logits sidecar their accuracies on
# the pool's members and non-members; the manifest lists every model's.
models = []
for metrics_path, logits_path in zip(snakemake.input.models, snakemake.input.logits, strict=True):
    info = artifacts.load_json(logits_path, fingerprint)
    blocks = zip(artifacts.load_json(metrics_path, fingerprint)["models"], info["train_accuracy"], info["nonmember_accuracy"], strict=True)
    for metrics, train, nonmember in blocks:
        models.append({**metrics, "train_accuracy": train, "nonmember_accuracy": nonmember})
results = Path(snakemake.input.pool).parent
repository = Path(snakemake.scriptdir).parent
code = provenance.git_state(repository)
sources = {snakemake.input.pool, *snakemake.input.models, *snakemake.input.logits}
outputs = sorted(str(Path(path).relative_to(results)) for path in snakemake.input if path not in sources)
manifest = {
    "experiment": config["experiment"],
    "config_hash": config_hash(config),
    "fingerprint": fingerprint,
    "config": config,
    "code": {"repository": str(repository), **code},
    "packages": provenance.package_versions(),
    "machine": provenance.machine(),
    "training": provenance.training_summary(models),
    "seeds": provenance.seeds(config["seed"], len(models)),
    "job_wall_seconds": provenance.job_wall_times(results / "benchmarks"),
    "outputs": outputs,
    "written_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
}
io.write_json(snakemake.output[0], manifest)
log.info(
    "manifest: config %s, fingerprint %s, commit %s%s, devices %s",
    manifest["config_hash"],
    fingerprint,
    code["commit"],
    " (dirty)" if code["dirty"] else "",
    manifest["training"]["devices"],
)
