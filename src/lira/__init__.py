"""LiRA, the Likelihood Ratio Attack (Carlini et al., IEEE S&P 2022), as a small library.

Two sides. Training and logit extraction (lira.models, lira.training, lira.download) use torch.
Everything after the logits works on numpy arrays and never imports torch: lira.statistics (the
per-example statistic), lira.gaussian (IN/OUT fits with leave-one-out), lira.attacks,
lira.metrics (ROC, TPR at low FPR), lira.tables and lira.plots. lira.splits (who trains on what),
lira.queries (the augmentation set), lira.datasets (file formats) and lira.io are shared.
The Snakemake workflow's scripts/ are thin adapters around these modules.
"""
