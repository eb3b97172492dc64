"""Throughput and memory benchmarks (outside the package; see common.py)."""
