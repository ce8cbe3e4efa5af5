"""Snakemake adapter: attacks/*.npz -> metrics.csv and metrics.md (ROC pooled over targets)."""

from pathlib import Path

from lira import io, tables
from lira.metrics import summarise

log = io.job_logger(snakemake.log[0])
rows = {}
for path in snakemake.input.attacks:
    attack = io.load_arrays(path)
    rows[Path(path).stem] = summarise(attack["scores"], attack["is_member"], snakemake.params.fprs)
    rows[Path(path).stem]["targets"] = len(attack["targets"])
frame = tables.metrics_frame(rows)
with io.atomic_path(snakemake.output.csv) as temporary:
    frame.to_csv(temporary, float_format="%.6g")
caption = (
    f"Experiment `{snakemake.params.experiment}`: ROC pooled over {frame['targets'].iloc[0]} targets "
    "(leave-one-out); TPR at an FPR below one non-member is not measurable."
)
io.write_text(snakemake.output.markdown, tables.markdown(frame, snakemake.params.fprs, caption))
log.info("\n%s", frame.to_string())
