"""Artifacts: the bytes that runs, experiments and model versions keep beside their records."""
