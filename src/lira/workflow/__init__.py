"""Workflow plumbing, importing neither torch nor Snakemake: config (loading and checking a
config), catalog (the attacks and the settings that decide each), artifacts (fingerprints and
checked loading of every file a job consumes), files (atomic writes, job logs), datasets and
download (image datasets from their standard formats), provenance (what made a result).
"""
