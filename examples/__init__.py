"""Worked examples: examples/audit/ (config/audit.yaml). Packages, so that an import path such as
examples.audit.my_models finds them from the working directory before any installed package named
examples."""
