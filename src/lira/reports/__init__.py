"""Reports from computed metrics and scores: tables (the paper's Tables I-III), figures (the ROC
and shadow-count figure jobs), plots (drawing every figure), examples (per-example
vulnerability) and paper_numbers (the paper's own numbers, printed beside ours).
"""
