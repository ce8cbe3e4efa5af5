"""The method, numpy only: from logits to membership scores and their evaluation.

splits (which model trains on which example), queries (the augmentations a model is queried
with), logit_statistics (the per-example statistic computed from logits), gaussian (per-example
IN/OUT Gaussians over the shadow models, leaving each target's pair of models out), attacks (LiRA and the baselines),
metrics (ROC, TPR at low FPR, bootstrap intervals, per-example exposure) and shadow_count (power
against the number of shadow models).
"""
