"""Reports from computed metrics and scores: tables (the paper's Tables I-III), plots (ROC and
the other figures), examples (per-example vulnerability) and paper_numbers (the paper's own
numbers, printed beside ours).
"""
