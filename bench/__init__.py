"""Benchmarks: figures, not pass/fail. `python -m bench` runs them all and prints one table."""
