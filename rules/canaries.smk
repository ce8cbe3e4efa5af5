# The paper's Fig. 13 on a pool with canaries (data.canaries): per-example privacy score d by
# group of examples, and the share of each group's members online LiRA finds. Only with canaries.

if HAS_CANARIES:

    rule fig13:
        """Per-example privacy score d = |mu_in - mu_out| / (sigma_in + sigma_out) of every pool
        example over all N shadow models, its histogram by group (ordinary examples, each kind of
        canary), a table per group (median d, online LiRA's TPR at the pool's 0.1 % FPR threshold,
        95 % intervals) and the finding on the paper's ordering."""
        input:
            pool=result("pool.npz"),
            fit=result("fit.npz"),
            attack=result("attacks/lira_online.npz"),
        output:
            scores=result("paper/fig13/privacy_scores.csv"),
            table_csv=result("paper/fig13/groups.csv"),
            table_md=report(
                result("paper/fig13/groups.md"),
                caption="../report/fig13.rst",
                category="Paper experiments",
            ),
            png=report(
                result("paper/fig13/privacy_score.png"),
                caption="../report/fig13.rst",
                category="Paper experiments",
            ),
            pdf=result("paper/fig13/privacy_score.pdf"),
            finding=result("paper/fig13/finding.json"),
        log:
            result("logs/paper/fig13.log"),
        benchmark:
            result("benchmarks/paper/fig13.tsv")
        conda:
            "../envs/analysis.yaml"
        params:
            statistic=setting("attack", "statistic"),
            # The FPR of the pooled threshold (the paper's 0.1 %), a choice of the code, recorded.
            max_fpr=0.001,
            resamples=setting("evaluate", "bootstrap"),
            seed=setting("seed"),
            experiment=EXPERIMENT,
        script:
            "../scripts/fig13.py"

    PAPER_FINDINGS.append(result("paper/fig13/finding.json"))
