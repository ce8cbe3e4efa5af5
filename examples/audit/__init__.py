"""A model trained outside the workflow and audited by it (config/audit.yaml, docs/audit.md)."""
