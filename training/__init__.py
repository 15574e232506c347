"""Offline side of recserve: data loading, splits, metrics, baselines, trainers.

Importing this package is cheap: torch is only imported by the trainers that
need it, so the evaluation harness and the baselines run without it.
"""
