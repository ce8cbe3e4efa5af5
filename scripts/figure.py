"""Snakemake adapter: attacks/*.npz -> figures/roc.png and roc.pdf."""

from pathlib import Path

from lira import io
from lira.metrics import roc_curve
from lira.plots import roc_figure

log = io.job_logger(snakemake.log[0])
curves = {}
for path in snakemake.input.attacks:
    attack = io.load_arrays(path)
    curves[Path(path).stem] = roc_curve(attack["scores"], attack["is_member"])
figure = roc_figure(curves, f"{snakemake.params.experiment}: {len(attack['targets'])} targets pooled")
for output in (snakemake.output.png, snakemake.output.pdf):
    with io.atomic_path(output) as temporary:
        figure.savefig(temporary, format=Path(output).suffix[1:], dpi=150)
log.info("ROC figure of %s", list(curves))
