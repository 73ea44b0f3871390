"""SIGTERM to one of two replicas while 8 SDK writers stream through both: the replica
drains and exits 0, the writers' streams move to the other replica, and every point is
stored exactly once (whatever the stopped replica acknowledged, it had committed).

The writers reach the replicas through one multi-address tracking URI
(`grpc://a,b`), which the SDK balances round-robin.
"""

from __future__ import annotations

import signal
import threading
import time

import pytest

from tests.scaleout.conftest import Launch, in_flight_rpcs
from trackway.client import TrackwayClient

pytestmark = [
    pytest.mark.slow,
    pytest.mark.parametrize("backend", ["postgresql", "mysql"], indirect=True),
]

WRITERS = 8
POINTS = 4_000  # per writer
PACE = 0.0005  # seconds between points: the streams span the shutdown


def test_sigterm_to_one_replica_loses_and_doubles_nothing(launch: Launch) -> None:
    replicas = [launch("a"), launch("b")]
    uri = "grpc://" + ",".join(r.target for r in replicas)
    clients = [TrackwayClient(uri) for _ in range(WRITERS)]
    try:
        exp = clients[0].create_experiment("failover")
        runs = [clients[0].create_run(exp, run_name=f"w{i}").info.run_id for i in range(WRITERS)]
        halfway = threading.Barrier(WRITERS + 1)
        resume = threading.Event()
        errors: list[BaseException] = []

        def write(i: int) -> None:
            try:
                logger = clients[i].logger
                for step in range(POINTS):
                    logger.log_metric(runs[i], "loss", float(step), step=step)
                    if step == POINTS // 2:
                        logger.flush(timeout=60)  # acknowledged: these must survive
                        halfway.wait(60)
                        resume.wait(60)
                    time.sleep(PACE)
                logger.flush(timeout=120)
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=write, args=(i,)) for i in range(WRITERS)]
        for thread in threads:
            thread.start()
        halfway.wait(120)
        # Stop the replica that holds more of the streams (round-robin starts at random).
        victim = max(replicas, key=in_flight_rpcs)
        assert in_flight_rpcs(victim) >= 1
        victim.proc.send_signal(signal.SIGTERM)
        resume.set()
        assert victim.proc.wait(60) == 0  # drained, committed, exited cleanly
        for thread in threads:
            thread.join(180)
        assert not errors, errors

        survivor = next(r for r in replicas if r is not victim)
        with TrackwayClient(f"grpc://{survivor.target}") as reader:
            for run_id in runs:
                steps = [p.step for p in reader.get_metric_history(run_id, "loss")]
                assert sorted(steps) == list(range(POINTS))  # each point exactly once
        # The writers whose stream was on the stopped replica opened another.
        assert sum(c.logger.stats.streams_opened for c in clients) > WRITERS
    finally:
        for client in clients:
            client.close()
