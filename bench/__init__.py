"""Benchmarks of the Cluster Agents API: AWS round trips per request, latency against
the floor, cold start, scaling with the data, and memory. ``make bench`` runs them
(``bench/__main__.py``) and writes BENCHMARKS.md."""
