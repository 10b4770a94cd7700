"""Benchmarks that print tables: a broadcast simulator, a scorer and the accuracy run."""
