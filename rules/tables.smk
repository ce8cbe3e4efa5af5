rule tables:
    """All metrics (metrics.csv/.md) and the paper's Tables I-III as CSV, Markdown and LaTeX."""
    input:
        metrics=expand(result("metrics/{attack}.json"), attack=ATTACKS),
        pool=result("pool.npz"),
        models=block_outputs("models", ".json"),
    output:
        csv=report(
            result("metrics.csv"),
            caption="../report/metrics.rst",
            category="Tables",
            labels={"table": "all attacks"},
        ),
        markdown=result("metrics.md"),
        table1_csv=report(
            result("tables/table1.csv"),
            caption="../report/table1.rst",
            category="Tables",
            labels={"table": "I"},
        ),
        table1_md=result("tables/table1.md"),
        table1_tex=result("tables/table1.tex"),
        table2_csv=report(
            result("tables/table2.csv"),
            caption="../report/table2.rst",
            category="Tables",
            labels={"table": "II"},
        ),
        table2_md=result("tables/table2.md"),
        table2_tex=result("tables/table2.tex"),
        table3_csv=report(
            result("tables/table3.csv"),
            caption="../report/table3.rst",
            category="Tables",
            labels={"table": "III"},
        ),
        table3_md=result("tables/table3.md"),
        table3_tex=result("tables/table3.tex"),
        settings=result("tables/settings.json"),
    log:
        result("logs/tables.log"),
    benchmark:
        result("benchmarks/tables.tsv")
    conda:
        "../envs/analysis.yaml"
    params:
        dataset=setting("data", "dataset"),
        fprs=setting("evaluate", "fprs"),
        seed=setting("seed"),
        experiment=EXPERIMENT,
    script:
        "../scripts/tables.py"
