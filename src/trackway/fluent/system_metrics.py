"""System metrics of a run: CPU, memory, disk and network, sampled by a thread (psutil).

Enabled per run with start_run(log_system_metrics=True), or for every run with
TRACKWAY_ENABLE_SYSTEM_METRICS_LOGGING=true. Samples go through the run's background
logger every TRACKWAY_SYSTEM_METRICS_SAMPLING_INTERVAL seconds (default 10), under
MLflow's names (`system/cpu_utilization_percentage`, ...), step = sample number.
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from trackway.client.logger import BackgroundLogger

ENABLE_ENV = "TRACKWAY_ENABLE_SYSTEM_METRICS_LOGGING"
INTERVAL_ENV = "TRACKWAY_SYSTEM_METRICS_SAMPLING_INTERVAL"
_MB = 1024 * 1024


def enabled(requested: bool | None) -> bool:
    if requested is not None:
        return requested
    return os.environ.get(ENABLE_ENV, "").lower() in ("1", "true", "yes")


def sample(psutil: Any) -> dict[str, float]:
    memory = psutil.virtual_memory()
    disk = psutil.disk_usage(os.path.abspath(os.sep))
    net = psutil.net_io_counters()
    return {
        "system/cpu_utilization_percentage": psutil.cpu_percent(interval=None),
        "system/system_memory_usage_megabytes": (memory.total - memory.available) / _MB,
        "system/system_memory_usage_percentage": memory.percent,
        "system/disk_usage_percentage": disk.percent,
        "system/disk_usage_megabytes": disk.used / _MB,
        "system/network_receive_megabytes": net.bytes_recv / _MB,
        "system/network_transmit_megabytes": net.bytes_sent / _MB,
    }


class SystemMonitor:
    """Samples until stopped; a failing sample ends the monitor, never the run."""

    def __init__(self, logger: BackgroundLogger, run_id: str, interval: float | None = None):
        import psutil  # refuse now, in start_run, when it is missing

        self._psutil = psutil
        self._logger = logger
        self._run_id = run_id
        self._interval = interval or float(os.environ.get(INTERVAL_ENV) or 10.0)
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._sample_forever, name="trackway-system-metrics", daemon=True
        )
        psutil.cpu_percent(interval=None)  # the first reading sets the baseline
        self._thread.start()

    def _sample_forever(self) -> None:
        step = 0
        while not self._stop.wait(self._interval):
            try:
                self._logger.log_metrics(self._run_id, sample(self._psutil), step=step)
            except Exception:
                return
            step += 1

    def stop(self) -> None:
        self._stop.set()
        if threading.current_thread() is not self._thread:
            self._thread.join(5.0)
