"""Trackway's benchmarks: `python -m bench` (or `make bench`) prints one JSON line per result.

Every workload starts its own `trackway server` child on a fresh SQLite database in a
temporary directory, talks to it over gRPC on loopback like a real client, and reports
medians over repeats. The ingest workloads also time raw `sqlite3` inserts of the same
rows into the same tables (`raw_sqlite`), the limit of the design, and report our
throughput as a ratio of it.
"""
