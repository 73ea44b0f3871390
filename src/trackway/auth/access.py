"""Whether a caller may do what a rule asks: the one evaluation of permissions.

Admins may do everything. Other users have, per experiment and per registered model,
the level granted to them (creators are granted MANAGE), and nothing elsewhere.
Levels are cached for CACHE_SECONDS per user and resource, so a hot loop of writes
costs no lookup per call; `forget()` drops the cache when this server changes a
permission, and other replicas see the change within CACHE_SECONDS.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from typing import Any

from trackway.auth.entities import Permission, Principal
from trackway.auth.errors import PermissionDenied
from trackway.auth.resources import ADMIN_ONLY, EXPERIMENT, MODEL, USER, Resolver, Target
from trackway.auth.rules import Access, Need, Rule
from trackway.errors import NotFound
from trackway.store.auth_store import SqlAuthStore

CACHE_SECONDS = 5.0
_CACHE_LIMIT = 100_000


class Authorizer:
    def __init__(self, store: SqlAuthStore, resolver: Resolver, ttl: float = CACHE_SECONDS) -> None:
        self.store = store
        self.resolver = resolver
        self._ttl = ttl
        self._levels: dict[tuple[int, str, int | str], tuple[Permission, float]] = {}
        self._lock = threading.Lock()

    def require(self, caller: Principal, rule: Rule, values: Iterable[tuple[Need, Any]]) -> None:
        """Returns when `caller` may make a call under `rule` with the request's
        `values` (each Need's field value); raises PermissionDenied, NotFound for a
        resource that does not exist, or InvalidArgument for a malformed one."""
        if caller.admin or rule.access in (Access.PUBLIC, Access.AUTHENTICATED):
            return
        if rule.access is Access.ADMIN:
            raise PermissionDenied(
                f"user {caller.name!r} is not an admin; only admins may do this",
                metadata={"needs": "admin"},
            )
        for need, value in values:
            for target in self.resolver.targets(need.kind, need.field, value, caller.name):
                self._require_target(caller, target, need.permission)

    def _require_target(self, caller: Principal, target: Target, needed: Permission) -> None:
        if target.kind == USER:
            if target.key != caller.name:
                raise PermissionDenied(
                    f"user {caller.name!r} may only do this for themselves, not for "
                    f"{str(target.key)!r}; admins may do it for anyone",
                    metadata={"needs": "admin"},
                )
            return
        if target == ADMIN_ONLY:
            raise PermissionDenied(
                "the location is not inside any experiment's artifact folder; only admins "
                "may use it",
                metadata={"needs": "admin"},
            )
        have = self.level(caller, target)
        if have >= needed:
            return
        if target.kind == EXPERIMENT and not self.store.experiment_exists(int(target.key)):
            raise NotFound(f"experiment {target.key} does not exist")
        shown = (
            f"experiment {target.key}" if target.kind == EXPERIMENT else f"model {target.name!r}"
        )
        raise PermissionDenied(
            f"user {caller.name!r} needs {needed.name} on {shown}"
            + (f" and has {have.name}" if have else " and has no permission on it"),
            metadata={
                "needs": needed.name,
                "has": have.name,
                "resource": f"{target.kind}/{target.name or target.key}",
            },
        )

    def level(self, caller: Principal, target: Target) -> Permission:
        if caller.admin:
            return Permission.MANAGE
        key = (caller.user_id, target.kind, target.key)
        now = time.monotonic()
        cached = self._levels.get(key)
        if cached is not None and cached[1] > now:
            return cached[0]
        if target.kind == EXPERIMENT:
            found = self.store.experiment_level(caller.user_id, int(target.key))
        elif target.kind == MODEL:
            found = self.store.model_level(caller.user_id, int(target.key))
        else:
            raise ValueError(f"no permission levels on {target.kind}")
        with self._lock:
            if len(self._levels) >= _CACHE_LIMIT:
                self._levels.clear()
            self._levels[key] = (found, now + self._ttl)
        return found

    def forget(self) -> None:
        """Drops cached levels: called when this server grants or revokes."""
        with self._lock:
            self._levels.clear()
