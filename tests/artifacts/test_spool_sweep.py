"""Abandoned upload sessions and spools expire and are swept with their bytes."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from trackway.artifacts import spool
from trackway.errors import NotFound


def _age(path: Path, seconds: float) -> None:
    past = time.time() - seconds
    os.utime(path, (past, past))


def test_sweep_removes_expired_sessions_and_spools_only(tmp_path: Path) -> None:
    sessions = spool.SessionStore(tmp_path)
    old = sessions.create("1/run/artifacts", "old.bin", 10, "")
    fresh = sessions.create("1/run/artifacts", "fresh.bin", 10, "")
    writer = sessions.open(old.session_id)
    writer.write_all([b"12345"])
    writer.close()
    for name in (f"{old.session_id}.json", f"{old.session_id}.part"):
        _age(tmp_path / "sessions" / name, spool.SESSION_TTL_SECONDS + 60)
    stale = spool.new_spool(tmp_path)
    stale.write_all([b"x"])
    stale.close()
    _age(stale.path, spool.SESSION_TTL_SECONDS + 60)
    live = spool.new_spool(tmp_path)
    live.close()

    assert sessions.sweep(tmp_path) == 2
    with pytest.raises(NotFound):
        sessions.get(old.session_id)
    assert sessions.get(fresh.session_id)[1] == 0
    assert not stale.path.exists() and live.path.exists()


def test_a_recent_write_keeps_an_old_session_alive(tmp_path: Path) -> None:
    sessions = spool.SessionStore(tmp_path)
    session = sessions.create("p", "f.bin", 10, "")
    _age(tmp_path / "sessions" / f"{session.session_id}.json", spool.SESSION_TTL_SECONDS + 60)
    writer = sessions.open(session.session_id)
    writer.write_all([b"abc"])
    writer.close()
    assert sessions.sweep(tmp_path) == 0
    assert sessions.get(session.session_id)[1] == 3
