"""Benchmarks: standalone scripts, each printing a measured figure next to its baseline."""
