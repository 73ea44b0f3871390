"""Statistics and the shape of one output record."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any

Record = dict[str, Any]
MIB_DIGITS = 1


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (pct in 0..100) of a non-empty sample."""
    ordered = sorted(values)
    rank = max(1, round(pct / 100.0 * len(ordered)))
    return float(ordered[min(rank, len(ordered)) - 1])


def rounded(values: Sequence[float], digits: int = 4) -> list[float]:
    return [round(v, digits) for v in values]


def record(workload: str, *, target: str, meets_target: bool, **fields: Any) -> Record:
    """A result line: the workload first, the target and its verdict last."""
    out: Record = {"workload": workload}
    out.update(fields)
    out["target"] = target
    out["meets_target"] = bool(meets_target)
    return out


def throughput(
    workload: str,
    points: int,
    seconds: Sequence[float],
    *,
    target_points_per_s: float,
    **fields: Any,
) -> Record:
    """A throughput record: median seconds, and points per second from that median."""
    med = median(seconds)
    rate = points / med
    return record(
        workload,
        points=points,
        seconds=round(med, 4),
        points_per_s=round(rate),
        repeats=len(seconds),
        seconds_each=rounded(seconds),
        **fields,
        target=f">= {target_points_per_s:,.0f} points/s",
        meets_target=rate >= target_points_per_s,
    )
