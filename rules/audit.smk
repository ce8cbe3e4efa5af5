# The audit of a target that is not among the shadow models (config `target`, docs/audit.md):
# the target's logits (one of three forms) -> its statistics -> its scores against every shadow
# model -> metrics (when its membership is known) -> the audit's report.


rule queries:
    """The query list (queries.json: every augmentation each example is queried under), for
    computing a target's logits outside the workflow in the pool's order (pool.npz)."""
    output:
        result("queries.json"),
    log:
        result("logs/queries.log"),
    conda:
        "../envs/analysis.yaml"
    params:
        queries=setting("queries"),
    script:
        "../scripts/queries.py"


if TARGET_FORM == "population":

    rule target_logits:
        """Query the target population's models of block {block}, as the shadows' are queried."""
        input:
            pool=result("pool.npz"),
            weights=f"{TARGET_POPULATION}/models/{{block}}.pt",
            metrics=f"{TARGET_POPULATION}/models/{{block}}.json",
        output:
            logits=audit("logits/{block}.npy"),
            info=audit("logits/{block}.json"),
        log:
            audit("logs/logits/{block}.log"),
        conda:
            "../envs/torch.yaml"
        threads: config["compute"]["threads"]
        resources:
            gpu=1 if USES_GPU else 0,
            runtime=per_try("runtime_minutes", "logits"),
            mem_mb=per_try("mem_mb", "logits"),
        params:
            **(
                {"split": _sorted(POPULATIONS[TARGET_POPULATION]["split"])}
                if POPULATIONS[TARGET_POPULATION]["split"]
                else {}
            ),
            seed=_sorted(TARGET["population"]["seed"]),
            model=_sorted(TARGET["model"]),
            queries=setting("queries"),
            # The part of the pool the targets trained on, for their accuracies (only when set).
        script:
            "../scripts/logits.py"


if TARGET_FORM == "weights":

    rule target_logits:
        """Query the model trained elsewhere (target.weights) on every pool example under every
        query, as the shadows are queried."""
        input:
            pool=result("pool.npz"),
            weights=TARGET["weights"],
        output:
            logits=audit("logits/target.npy"),
            info=audit("logits/target.json"),
        log:
            audit("logs/logits.log"),
        conda:
            "../envs/torch.yaml"
        threads: config["compute"]["threads"]
        resources:
            gpu=1 if USES_GPU else 0,
            runtime=per_try("runtime_minutes", "logits"),
            mem_mb=per_try("mem_mb", "logits"),
        params:
            seed=setting("seed"),
            model=_sorted(TARGET["model"]),
            queries=setting("queries"),
        script:
            "../scripts/target_query.py"


if TARGET_FORM == "logits":

    rule target_logits:
        """Check and import the logits computed elsewhere (target.logits)."""
        input:
            pool=result("pool.npz"),
            logits=TARGET["logits"],
        output:
            logits=audit("logits/target.npy"),
            info=audit("logits/target.json"),
        log:
            audit("logs/logits.log"),
        conda:
            "../envs/analysis.yaml"
        params:
            seed=setting("seed"),
            queries=setting("queries"),
        script:
            "../scripts/target_import.py"


if TARGET_FORM:

    rule target_statistics:
        """The target's per-example statistics [T, pool, queries] and membership [T, pool] (where
        known), after checking its files and that it was made like its shadows (or the
        difference is declared)."""
        input:
            pool=result("pool.npz"),
            logits=audit_logits(".npy"),
            logits_info=audit_logits(".json"),
            shadow_models=block_outputs("models", ".json"),
            target_models=(
                [
                    f"{TARGET_POPULATION}/models/{block}.json"
                    for block in POPULATIONS[TARGET_POPULATION]["blocks"]
                ]
                if TARGET_FORM == "population"
                else []
            ),
            membership=TARGET["membership"] or [],
        output:
            audit("targets.npz"),
        log:
            audit("logs/targets.log"),
        conda:
            "../envs/analysis.yaml"
        params:
            form=TARGET_FORM,
            seed=setting("seed"),
            target=_sorted(TARGET),
        script:
            "../scripts/target_statistics.py"

    rule audit_attack:
        """Score every pool example of each target with attack {attack}, against every shadow
        model: [T, pool] scores, higher = member."""
        input:
            **SHADOWS,
            fit=result("fit.npz"),
            pool=result("pool.npz"),
            targets=audit("targets.npz"),
        output:
            audit("attacks/{attack}.npz"),
        log:
            audit("logs/attack/{attack}.log"),
        conda:
            "../envs/analysis.yaml"
        params:
            settings=lambda wildcards: _sorted(
                catalog.audit_settings(wildcards.attack, config)
            ),
            seed=setting("seed"),
            queries=setting("queries"),
        script:
            "../scripts/audit_attack.py"

    rule audit_evaluate:
        """ROC of attack {attack} on the target(s) whose membership is known."""
        input:
            attack=audit("attacks/{attack}.npz"),
            pool=result("pool.npz"),
        output:
            audit("metrics/{attack}.json"),
        log:
            audit("logs/evaluate/{attack}.log"),
        conda:
            "../envs/analysis.yaml"
        params:
            fprs=setting("evaluate", "fprs"),
            bootstrap=setting("evaluate", "bootstrap"),
            seed=setting("seed"),
            delta=(TARGET["train"].get("dp") or {}).get("delta", EPSILON_DELTA),
        script:
            "../scripts/evaluate.py"

    rule audit_report:
        """The audit's report: each attack's thresholds at the configured FPRs as the shadows
        calibrate them and how many examples lie beyond, the ranked most exposed examples, and
        (membership known) the attack's power on the target next to the shadows' own.
        """
        input:
            attacks=expand(audit("attacks/{attack}.npz"), attack=AUDIT_ATTACKS),
            metrics=(
                expand(audit("metrics/{attack}.json"), attack=AUDIT_ATTACKS)
                if HAS_MEMBERSHIP
                else []
            ),
            shadow_attacks=expand(result("attacks/{attack}.npz"), attack=AUDIT_ATTACKS),
            shadow_metrics=expand(result("metrics/{attack}.json"), attack=AUDIT_ATTACKS),
            targets=audit("targets.npz"),
            pool=result("pool.npz"),
        output:
            report=report(
                audit("report.md"),
                caption="../report/audit.rst",
                category="Audit",
            ),
            summary=audit("summary.csv"),
            ranking=audit("most_exposed.csv"),
            png=report(
                audit("scores.png"),
                caption="../report/audit_scores.rst",
                category="Audit",
            ),
            pdf=audit("scores.pdf"),
        log:
            audit("logs/report.log"),
        conda:
            "../envs/analysis.yaml"
        params:
            fprs=setting("evaluate", "fprs"),
            seed=setting("seed"),
            name=TARGET["name"],
            experiment=EXPERIMENT,
        script:
            "../scripts/audit_report.py"
