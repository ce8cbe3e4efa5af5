"""Snakemake adapter: metrics/*.json -> metrics.csv/.md and tables/table{1,2,3}.{csv,md,tex}."""

from lira import artifacts, catalog, io, tables
from lira.config import config_hash

log = io.job_logger(snakemake.log[0])
config = snakemake.config
fingerprint = artifacts.expected_fingerprint(snakemake.input.pool, config["seed"])
results = [artifacts.load_json(path, fingerprint) for path in snakemake.input.metrics]
frame = tables.metrics_frame(results)
attacks = catalog.attacks(config)
labels = {name: attack.label for name, attack in attacks.items()}
# Table II's step labels ("+ Gaussian") need their path to make sense on their own.
full_labels = {name: f"{labels[name]} [{name}]" for name in labels}
dataset = snakemake.params.dataset
experiment = snakemake.params.experiment
# Which config made these tables (read, not a rule parameter: a label must not rerun anything).
made_by = f"config {config_hash(config)}"
settings = {result["attack"]: result["settings"] for result in results}
lira = settings.get("lira_online", {})
note = (
    f"Experiment `{experiment}` ({made_by}), {frame['targets'].iloc[0]} targets pooled (leave-one-out), "
    f"{int(frame['non_members'].iloc[0])} non-members; TPR in % with 95 % bootstrap interval; "
    f"LiRA: statistic {lira.get('statistic')}, centre {lira.get('centre')}; offline test "
    f"{settings.get('lira_offline', {}).get('offline_test')}. 'not measurable': FPR below one "
    "non-member; '-': below the attack's resolution."
)

with io.atomic_path(snakemake.output.csv) as temporary:
    frame.to_csv(temporary, float_format="%.6g")
all_attacks = tables.all_attacks_table(frame, config["evaluate"]["fprs"], full_labels)
io.write_text(snakemake.output.markdown, tables.markdown(all_attacks, note))

made = {
    "table1": (tables.table_1(frame, labels, dataset), "Table I: attacks compared at low FPR"),
    "table2": (tables.table_2(frame, labels, dataset), "Table II: what makes LiRA work (ablation paths)"),
    "table3": (tables.table_3(frame, catalog.table_3(config), dataset), "Table III: online LiRA by number of queries"),
}
for key, (table, title) in made.items():
    csv_path, markdown_path, latex_path = (snakemake.output[f"{key}_{kind}"] for kind in ("csv", "md", "tex"))
    with io.atomic_path(csv_path) as temporary:
        table.to_csv(temporary, index=False)
    io.write_text(markdown_path, tables.markdown(table, f"**{title}.** {note}"))
    io.write_text(latex_path, tables.latex(table, f"{title}. {note}", label=f"tab:{key}"))
io.write_json(
    snakemake.output.settings,
    {"experiment": experiment, "config_hash": config_hash(config), "fingerprint": fingerprint, "attacks": settings},
)
log.info("\n%s", all_attacks.to_string())
