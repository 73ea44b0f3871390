"""What every SQL store shares: reads on pooled connections, writes on the one writer."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import Engine
from sqlalchemy.engine import Connection

from trackway.store import writes
from trackway.store.writer import GroupCommitWriter

T = TypeVar("T")


class SqlStore:
    """A store on an engine and its group-commit writer, below one artifact root."""

    def __init__(self, engine: Engine, writer: GroupCommitWriter, artifact_root: str) -> None:
        self.engine = engine
        self.writer = writer
        self.artifact_root = artifact_root.rstrip("/")

    def _read(self, fn: Callable[[Connection], T]) -> T:
        with self.engine.connect() as conn:
            return fn(conn)

    def _write(
        self, method: str, request_id: str, fn: Callable[[Connection, int], str | None]
    ) -> str:
        """One committed, idempotent write; returns its result (an id or "")."""
        return writes.idempotent_write(self.writer, method, request_id, fn)
