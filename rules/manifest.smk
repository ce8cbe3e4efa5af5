rule manifest:
    """Provenance of the experiment: resolved config and its hash, git commit and dirty flag,
    package versions, devices, seeds and per-job wall times (results/<experiment>/manifest.json).
    Runs after every table and figure; reads the config at run time, so a setting that changes no
    result (compute.*) reruns nothing."""
    input:
        rules.tables.output,
        rules.figure_roc.output,
        rules.figure_shadow_count.output,
        rules.figure_examples.output,
        pool=result("pool.npz"),
        models=block_outputs("models", ".json"),
        logits=block_outputs("logits", ".json"),
    output:
        result("manifest.json"),
    log:
        result("logs/manifest.log"),
    conda:
        "../envs/analysis.yaml"
    script:
        "../scripts/manifest.py"
