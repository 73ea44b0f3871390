"""The SQL store of users, tokens and permissions, and the lookups that authorization
needs from the tracking tables (a run's experiment, a model's id).

It shares the tracking store's engine and group-commit writer (`from_tracking`), like
the registry store, so its writes commit in the writer's groups and never contend with
them for SQLite's lock. `open` builds a stand-alone one for commands that work on the
database directly (the first admin of a fresh install).

Rules about names, levels and who may do what live in `trackway.auth`; here is only
SQL, one transaction per method. Reads that authorize a call are single indexed
lookups.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, Select, Table, delete, func, insert, or_, select, update
from sqlalchemy.engine import Connection, Row

from trackway.auth.entities import ADMIN, Grant, Permission, Token, User
from trackway.errors import AlreadyExists, FailedPrecondition, NotFound
from trackway.store import engine as engines
from trackway.store import migrate
from trackway.store.auth_schema import (
    api_tokens,
    experiment_permissions,
    registered_model_permissions,
    users,
)
from trackway.store.base import SqlStore
from trackway.store.registry_schema import registered_models
from trackway.store.schema import experiments, logged_models, runs
from trackway.store.tracking_store import SqlTrackingStore
from trackway.store.writer import GroupCommitWriter


class SqlAuthStore(SqlStore):
    """Users, API tokens and permissions in the tracking database."""

    _owns_writer = False

    @classmethod
    def from_tracking(cls, store: SqlTrackingStore) -> SqlAuthStore:
        """An auth store on the tracking store's database and writer; closing the
        tracking store closes it too."""
        return cls(store.engine, store.writer, store.artifact_root)

    @classmethod
    def open(cls, url: str, *, sqlite_synchronous: str = "NORMAL") -> SqlAuthStore:
        """A stand-alone store (its own engine and writer), with the schema migrated."""
        engine = engines.create(url, sqlite_synchronous=sqlite_synchronous, pool_size=2)
        migrate.upgrade(engine)
        opened = cls(engine, GroupCommitWriter(engine), "")
        opened._owns_writer = True
        return opened

    def close(self) -> None:
        if self._owns_writer:
            self.writer.close()
            self.engine.dispose()

    # Users

    def create_user(self, name: str, role: str) -> User:
        def job(conn: Connection, now: int) -> str:
            if _user_row(conn, name) is not None:
                raise AlreadyExists(f"user {name!r} already exists")
            new_id = conn.execute(
                insert(users)
                .values(name=name, role=role, creation_time=now)
                .returning(users.c.user_id)
            ).scalar_one()
            return str(new_id)

        self._write("CreateUser", "", job)
        return self.get_user(name)

    def get_user(self, name: str) -> User:
        row = self._read(lambda conn: _user_row(conn, name))
        if row is None:
            raise NotFound(f"user {name!r} does not exist")
        return _user(row)

    def find_user(self, name: str) -> User | None:
        row = self._read(lambda conn: _user_row(conn, name))
        return None if row is None else _user(row)

    def list_users(self, page_size: int, after: str = "") -> list[User]:
        query = select(users).order_by(users.c.name).limit(page_size)
        if after:
            query = query.where(users.c.name > after)
        return self._read(lambda conn: [_user(r) for r in conn.execute(query)])

    def count_admins(self) -> int:
        query = select(func.count()).select_from(users).where(users.c.role == ADMIN)
        return int(self._read(lambda conn: conn.execute(query).scalar_one()))

    def set_role(self, name: str, role: str) -> User:
        def job(conn: Connection, now: int) -> None:
            row = _require_user(conn, name)
            if row.role == ADMIN and role != ADMIN:
                _keep_an_admin(conn, name)
            conn.execute(update(users).where(users.c.user_id == row.user_id).values(role=role))

        self._write("UpdateUser", "", job)
        return self.get_user(name)

    def delete_user(self, name: str) -> None:
        def job(conn: Connection, now: int) -> None:
            row = _require_user(conn, name)
            if row.role == ADMIN:
                _keep_an_admin(conn, name)
            # Explicit deletes as well as the cascades: MySQL's and SQLite's foreign keys
            # are not the only line of defence for credentials.
            conn.execute(delete(api_tokens).where(api_tokens.c.user_id == row.user_id))
            for table in (experiment_permissions, registered_model_permissions):
                conn.execute(delete(table).where(table.c.user_id == row.user_id))
            conn.execute(delete(users).where(users.c.user_id == row.user_id))

        self._write("DeleteUser", "", job)

    # Tokens

    def create_token(
        self,
        user_name: str,
        token_id: str,
        token_hash: str,
        description: str,
        expire_time: int | None,
        max_live: int,
    ) -> Token:
        def job(conn: Connection, now: int) -> None:
            user = _require_user(conn, user_name)
            live = conn.execute(
                select(func.count())
                .select_from(api_tokens)
                .where(api_tokens.c.user_id == user.user_id, *_live(now))
            ).scalar_one()
            if live >= max_live:
                raise FailedPrecondition(
                    f"user {user_name!r} already has {live} live tokens, the most allowed; "
                    "revoke some first"
                )
            conn.execute(
                insert(api_tokens).values(
                    token_id=token_id,
                    user_id=user.user_id,
                    token_hash=token_hash,
                    description=description,
                    creation_time=now,
                    expire_time=expire_time,
                    revoked_time=None,
                )
            )

        self._write("CreateToken", "", job)
        return self.get_token(token_id)

    def get_token(self, token_id: str) -> Token:
        query = _token_select().where(api_tokens.c.token_id == token_id)
        row = self._read(lambda conn: conn.execute(query).first())
        if row is None:
            raise NotFound(f"token {token_id!r} does not exist")
        return _token(row)

    def list_tokens(
        self, user_name: str, page_size: int, after: tuple[int, str] | None = None
    ) -> list[Token]:
        """A user's tokens, newest first; `after` is the (creation_time, token_id) of
        the last token of the previous page."""

        def read(conn: Connection) -> list[Token]:
            user = _require_user(conn, user_name)
            query = (
                _token_select()
                .where(api_tokens.c.user_id == user.user_id)
                .order_by(api_tokens.c.creation_time.desc(), api_tokens.c.token_id.desc())
                .limit(page_size)
            )
            if after is not None:
                time, token_id = after
                query = query.where(
                    or_(
                        api_tokens.c.creation_time < time,
                        (api_tokens.c.creation_time == time) & (api_tokens.c.token_id < token_id),
                    )
                )
            return [_token(r) for r in conn.execute(query)]

        return self._read(read)

    def revoke_token(self, token_id: str) -> Token:
        def job(conn: Connection, now: int) -> None:
            found = conn.execute(
                update(api_tokens)
                .where(api_tokens.c.token_id == token_id, api_tokens.c.revoked_time.is_(None))
                .values(revoked_time=now)
            ).rowcount
            if not found:
                exists = conn.execute(
                    select(api_tokens.c.token_id).where(api_tokens.c.token_id == token_id)
                ).first()
                if exists is None:
                    raise NotFound(f"token {token_id!r} does not exist")

        self._write("RevokeToken", "", job)
        return self.get_token(token_id)

    def user_of_token(self, token_hash: str, now: int) -> tuple[User, int | None] | None:
        """The user a live token (neither revoked nor expired) authenticates as, and
        when the token expires (None: never)."""
        query = (
            select(users, api_tokens.c.expire_time)
            .join(api_tokens, api_tokens.c.user_id == users.c.user_id)
            .where(api_tokens.c.token_hash == token_hash, *_live(now))
        )
        row = self._read(lambda conn: conn.execute(query).first())
        if row is None:
            return None
        return _user(row), None if row.expire_time is None else int(row.expire_time)

    def known_token_hash(self, token_hash: str) -> bool:
        query = select(api_tokens.c.token_id).where(api_tokens.c.token_hash == token_hash)
        return self._read(lambda conn: conn.execute(query).first()) is not None

    # Permissions

    def grant_experiment(self, experiment_id: int, user_name: str, level: Permission) -> None:
        def job(conn: Connection, now: int) -> None:
            user = _require_user(conn, user_name)
            if not _exists(conn, experiments, experiments.c.experiment_id == experiment_id):
                raise NotFound(f"experiment {experiment_id} does not exist")
            _upsert(
                conn,
                experiment_permissions,
                experiment_permissions.c.experiment_id == experiment_id,
                {"experiment_id": experiment_id},
                user.user_id,
                level,
            )

        self._write("GrantExperimentPermission", "", job)

    def grant_model(self, name: str, user_name: str, level: Permission) -> None:
        def job(conn: Connection, now: int) -> None:
            user = _require_user(conn, user_name)
            model_id = _model_id(conn, name)
            if model_id is None:
                raise NotFound(f"registered model {name!r} does not exist")
            _upsert(
                conn,
                registered_model_permissions,
                registered_model_permissions.c.model_id == model_id,
                {"model_id": model_id},
                user.user_id,
                level,
            )

        self._write("GrantRegisteredModelPermission", "", job)

    def claim_experiment(self, experiment_id: int, user_id: int) -> None:
        """MANAGE for the creator of a new experiment: granted only while nobody holds a
        permission on it, so a replayed create (same request id) by someone else gains
        nothing."""
        table = experiment_permissions
        resource = table.c.experiment_id == experiment_id
        self._claim(table, resource, {"experiment_id": experiment_id}, user_id)

    def claim_model(self, model_id: int, user_id: int) -> None:
        """MANAGE for the creator of a new registered model, as `claim_experiment`."""
        table = registered_model_permissions
        self._claim(table, table.c.model_id == model_id, {"model_id": model_id}, user_id)

    def _claim(
        self, table: Table, resource: ColumnElement[bool], key: dict[str, int], user_id: int
    ) -> None:
        def job(conn: Connection, now: int) -> None:
            if not _exists(conn, table, resource):
                conn.execute(insert(table).values(**key, user_id=user_id, permission="MANAGE"))

        self._write("ClaimResource", "", job)

    def revoke_experiment(self, experiment_id: int, user_name: str) -> None:
        def job(conn: Connection, now: int) -> None:
            user = _require_user(conn, user_name)
            gone = conn.execute(
                delete(experiment_permissions).where(
                    experiment_permissions.c.experiment_id == experiment_id,
                    experiment_permissions.c.user_id == user.user_id,
                )
            ).rowcount
            if not gone:
                raise NotFound(
                    f"user {user_name!r} has no permission on experiment {experiment_id}"
                )

        self._write("RevokeExperimentPermission", "", job)

    def revoke_model(self, name: str, user_name: str) -> None:
        def job(conn: Connection, now: int) -> None:
            user = _require_user(conn, user_name)
            model_id = _model_id(conn, name)
            gone = 0
            if model_id is not None:
                gone = conn.execute(
                    delete(registered_model_permissions).where(
                        registered_model_permissions.c.model_id == model_id,
                        registered_model_permissions.c.user_id == user.user_id,
                    )
                ).rowcount
            if not gone:
                raise NotFound(f"user {user_name!r} has no permission on model {name!r}")

        self._write("RevokeRegisteredModelPermission", "", job)

    def experiment_grants(self, experiment_id: int, page_size: int, after: str = "") -> list[Grant]:
        table = experiment_permissions
        query = (
            select(users.c.name, table.c.permission)
            .join(users, users.c.user_id == table.c.user_id)
            .where(table.c.experiment_id == experiment_id)
        )
        return self._grants(query, str(experiment_id), page_size, after)

    def model_grants(self, name: str, page_size: int, after: str = "") -> list[Grant]:
        table = registered_model_permissions
        query = (
            select(users.c.name, table.c.permission)
            .join(users, users.c.user_id == table.c.user_id)
            .join(registered_models, registered_models.c.model_id == table.c.model_id)
            .where(registered_models.c.name == name)
        )
        return self._grants(query, name, page_size, after)

    def _grants(
        self, query: Select[tuple[str, str]], resource: str, page_size: int, after: str
    ) -> list[Grant]:
        query = query.order_by(users.c.name).limit(page_size)
        if after:
            query = query.where(users.c.name > after)
        rows = self._read(lambda conn: list(conn.execute(query)))
        return [Grant(resource, r.name, Permission[r.permission]) for r in rows]

    def experiment_level(self, user_id: int, experiment_id: int) -> Permission:
        table = experiment_permissions
        query = select(table.c.permission).where(
            table.c.experiment_id == experiment_id, table.c.user_id == user_id
        )
        found = self._read(lambda conn: conn.execute(query).scalar())
        return Permission[found] if found else Permission.NONE

    def model_level(self, user_id: int, model_id: int) -> Permission:
        table = registered_model_permissions
        query = select(table.c.permission).where(
            table.c.model_id == model_id, table.c.user_id == user_id
        )
        found = self._read(lambda conn: conn.execute(query).scalar())
        return Permission[found] if found else Permission.NONE

    def readable(self, user_id: int) -> tuple[dict[int, Permission], dict[str, Permission]]:
        """Every grant of a user: levels by experiment id, and by model name."""

        def read(conn: Connection) -> tuple[dict[int, Permission], dict[str, Permission]]:
            table = experiment_permissions
            found = conn.execute(
                select(table.c.experiment_id, table.c.permission).where(table.c.user_id == user_id)
            )
            by_experiment = {int(r.experiment_id): Permission[r.permission] for r in found}
            models = registered_model_permissions
            found = conn.execute(
                select(registered_models.c.name, models.c.permission)
                .join(registered_models, registered_models.c.model_id == models.c.model_id)
                .where(models.c.user_id == user_id)
            )
            return by_experiment, {r.name: Permission[r.permission] for r in found}

        return self._read(read)

    # What authorization needs to know about tracking and registry resources

    def experiment_exists(self, experiment_id: int) -> bool:
        return self._read(
            lambda conn: _exists(conn, experiments, experiments.c.experiment_id == experiment_id)
        )

    def experiment_of_run(self, run_id: str) -> int | None:
        query = select(runs.c.experiment_id).where(runs.c.run_id == run_id)
        found = self._read(lambda conn: conn.execute(query).scalar())
        return None if found is None else int(found)

    def experiment_of_logged_model(self, model_id: str) -> int | None:
        query = select(logged_models.c.experiment_id).where(logged_models.c.model_id == model_id)
        found = self._read(lambda conn: conn.execute(query).scalar())
        return None if found is None else int(found)

    def experiment_named(self, name: str) -> int | None:
        query = select(experiments.c.experiment_id).where(experiments.c.name == name)
        found = self._read(lambda conn: conn.execute(query).scalar())
        return None if found is None else int(found)

    def experiments_at(self, locations: Sequence[str]) -> list[int]:
        """The experiments whose artifact location is one of `locations`."""
        if not locations:
            return []
        query = select(experiments.c.experiment_id).where(
            experiments.c.artifact_location.in_(list(locations))
        )
        return self._read(lambda conn: [int(r[0]) for r in conn.execute(query)])

    def model_id(self, name: str) -> int | None:
        return self._read(lambda conn: _model_id(conn, name))

    def owner_of_token(self, token_id: str) -> str | None:
        query = (
            select(users.c.name)
            .join(api_tokens, api_tokens.c.user_id == users.c.user_id)
            .where(api_tokens.c.token_id == token_id)
        )
        found = self._read(lambda conn: conn.execute(query).scalar())
        return None if found is None else str(found)


def _user_row(conn: Connection, name: str) -> Row | None:
    return conn.execute(select(users).where(users.c.name == name)).first()


def _require_user(conn: Connection, name: str) -> Row:
    row = _user_row(conn, name)
    if row is None:
        raise NotFound(f"user {name!r} does not exist")
    return row


def _keep_an_admin(conn: Connection, name: str) -> None:
    others = conn.execute(
        select(func.count()).select_from(users).where(users.c.role == ADMIN, users.c.name != name)
    ).scalar_one()
    if not others:
        raise FailedPrecondition(
            f"{name!r} is the only admin; make another user an admin first, or nobody "
            "could manage this server"
        )


def _user(row: Row) -> User:
    return User(int(row.user_id), row.name, row.role, int(row.creation_time))


def _live(now: int) -> tuple[ColumnElement[bool], ...]:
    return (
        api_tokens.c.revoked_time.is_(None),
        or_(api_tokens.c.expire_time.is_(None), api_tokens.c.expire_time > now),
    )


def _token_select() -> Select[tuple[str, str, str, int, int | None, int | None]]:
    return select(
        api_tokens.c.token_id,
        users.c.name.label("user_name"),
        api_tokens.c.description,
        api_tokens.c.creation_time,
        api_tokens.c.expire_time,
        api_tokens.c.revoked_time,
    ).join(users, users.c.user_id == api_tokens.c.user_id)


def _token(row: Row) -> Token:
    return Token(
        row.token_id,
        row.user_name,
        row.description,
        int(row.creation_time),
        None if row.expire_time is None else int(row.expire_time),
        None if row.revoked_time is None else int(row.revoked_time),
    )


def _exists(conn: Connection, table: Table, condition: ColumnElement[bool]) -> bool:
    return conn.execute(select(1).select_from(table).where(condition).limit(1)).first() is not None


def _model_id(conn: Connection, name: str) -> int | None:
    found = conn.execute(
        select(registered_models.c.model_id).where(registered_models.c.name == name)
    ).scalar()
    return None if found is None else int(found)


def _upsert(
    conn: Connection,
    table: Table,
    resource: ColumnElement[bool],
    key: dict[str, int],
    user_id: int,
    level: Permission,
) -> None:
    """Sets a user's level on a resource: an update, or an insert when there was none.
    Both run in the writer's transaction, so no other write interleaves on SQLite; a
    replica inserting the same row at once fails the primary key, which the write path
    reports as ABORTED, safe to retry."""
    changed = conn.execute(
        update(table).where(resource, table.c.user_id == user_id).values(permission=level.name)
    ).rowcount
    if not changed:
        conn.execute(insert(table).values(**key, user_id=user_id, permission=level.name))
