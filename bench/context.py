"""What the workloads share within one `python -m bench` invocation."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Context:
    tmp: Path
    repeats: int | None = None
    # Peak RSS (MiB) of the server tree during each ingest workload, by workload name.
    ingest_peaks_mb: dict[str, float] = field(default_factory=dict)

    def reps(self, default: int) -> int:
        """The repeats of a workload: `--repeats` when given, else its own default."""
        return self.repeats or default


def count_points(db_path: Path) -> int:
    """Rows in the metrics table, read straight from the server's database file."""
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        return int(conn.execute("SELECT COUNT(*) FROM metrics").fetchone()[0])
    finally:
        conn.close()
