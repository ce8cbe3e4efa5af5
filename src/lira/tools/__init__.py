"""Command-line tools: plan (jobs, device-hours and disk before a run: `python -m lira.tools.plan`)
and calibrate (a short measurement of training and inference speed on this machine).
"""
