"""LiRA, the Likelihood Ratio Attack (Carlini et al., IEEE S&P 2022), as a small library.

- lira.core: the method, numpy only (statistics from logits, Gaussian fits, attacks, metrics).
- lira.models: the torch side (architectures, training, querying, weights), the only place torch
  is imported.
- lira.workflow: plumbing for the Snakemake workflow (config, artifacts, datasets, provenance);
  imports neither torch nor Snakemake.
- lira.reports: tables and figures.
- lira.tools: plan and calibrate.

The workflow's scripts/ are thin adapters: each reads snakemake.input/params/output and calls one
function of this package.
"""
