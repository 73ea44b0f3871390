"""Registry reads and writes on an open connection. The store owns the transaction.

Models are addressed by name and found by one indexed read of `registered_models`;
everything below a model is keyed by its integer id. Every change to a model or a
version moves its `last_updated_timestamp` strictly forward (now, or one more than
before when two writes share a millisecond), so that it can serve as the update
precondition of UpdateRegisteredModel and UpdateModelVersion.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import ColumnElement, and_, case, delete, func, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from trackway import search
from trackway.errors import Aborted, AlreadyExists, FailedPrecondition, NotFound
from trackway.registry.entities import (
    ACTIVE_STAGES,
    READY,
    STAGE_ARCHIVED,
    STAGE_NONE,
    STAGES,
    ModelVersion,
    NewVersion,
    RegisteredModel,
)
from trackway.store import dialect
from trackway.store.registry_schema import (
    model_version_tags,
    model_versions,
    registered_model_aliases,
    registered_model_tags,
    registered_models,
)
from trackway.store.schema import runs
from trackway.tracking.entities import ACTIVE, Page

_CHUNK = 500


def _bumped(column: Any, now_ms: int) -> ColumnElement[Any]:
    """`now`, or one past the column's value when that is not earlier than now."""
    return case((column >= now_ms, column + 1), else_=now_ms)


def _versions_query() -> Any:
    return select(model_versions, registered_models.c.name).join(
        registered_models, registered_models.c.model_id == model_versions.c.model_id
    )


# Registered models


def model_id(conn: Connection, name: str) -> int:
    found = conn.execute(
        select(registered_models.c.model_id).where(registered_models.c.name == name)
    ).scalar()
    if found is None:
        raise NotFound(f"registered model {name!r} does not exist")
    return int(found)


def _touch_model(conn: Connection, mid: int, now_ms: int) -> None:
    conn.execute(
        update(registered_models)
        .where(registered_models.c.model_id == mid)
        .values(last_updated_timestamp=_bumped(registered_models.c.last_updated_timestamp, now_ms))
    )


def _require_free_name(conn: Connection, name: str) -> None:
    taken = conn.execute(
        select(registered_models.c.model_id).where(registered_models.c.name == name)
    ).first()
    if taken is not None:
        raise AlreadyExists(f"a registered model is already named {name!r}")


def create_model(
    conn: Connection,
    name: str,
    description: str,
    tag_items: Sequence[tuple[str, str]],
    now_ms: int,
) -> int:
    _require_free_name(conn, name)
    try:
        # Another replica may insert the name between the check and the insert.
        with conn.begin_nested():
            mid = conn.execute(
                insert(registered_models)
                .values(
                    name=name,
                    description=description,
                    creation_timestamp=now_ms,
                    last_updated_timestamp=now_ms,
                    latest_version=0,
                )
                .returning(registered_models.c.model_id)
            ).scalar_one()
    except IntegrityError:
        raise AlreadyExists(f"a registered model is already named {name!r}") from None
    _set_model_tags(conn, int(mid), tag_items)
    return int(mid)


def rename_model(conn: Connection, name: str, new_name: str, now_ms: int) -> int:
    mid = model_id(conn, name)
    if new_name == name:
        return mid
    _require_free_name(conn, new_name)
    try:
        with conn.begin_nested():
            conn.execute(
                update(registered_models)
                .where(registered_models.c.model_id == mid)
                .values(name=new_name)
            )
    except IntegrityError:
        raise AlreadyExists(f"a registered model is already named {new_name!r}") from None
    _touch_model(conn, mid, now_ms)
    return mid


def _require_unchanged(found: int, expected: int, what: str) -> None:
    if expected and found != expected:
        raise Aborted(
            f"{what} changed since it was read (last_updated_timestamp is {found}, not "
            f"{expected}); read it again and retry",
            metadata={"last_updated_timestamp": str(found)},
        )


def update_model_description(
    conn: Connection, name: str, description: str, expected_ms: int, now_ms: int
) -> int:
    row = conn.execute(
        select(registered_models.c.model_id, registered_models.c.last_updated_timestamp).where(
            registered_models.c.name == name
        )
    ).first()
    if row is None:
        raise NotFound(f"registered model {name!r} does not exist")
    _require_unchanged(row.last_updated_timestamp, expected_ms, f"registered model {name!r}")
    conn.execute(
        update(registered_models)
        .where(registered_models.c.model_id == row.model_id)
        .values(description=description)
    )
    _touch_model(conn, row.model_id, now_ms)
    return int(row.model_id)


def delete_model(conn: Connection, name: str) -> None:
    """Removes the model with all its versions, tags and aliases."""
    mid = model_id(conn, name)
    conn.execute(delete(registered_model_aliases).where(registered_model_aliases.c.model_id == mid))
    conn.execute(delete(model_version_tags).where(model_version_tags.c.model_id == mid))
    conn.execute(delete(model_versions).where(model_versions.c.model_id == mid))
    conn.execute(delete(registered_model_tags).where(registered_model_tags.c.model_id == mid))
    conn.execute(delete(registered_models).where(registered_models.c.model_id == mid))


def _set_model_tags(conn: Connection, mid: int, items: Sequence[tuple[str, str]]) -> None:
    dialect.upsert(
        conn,
        registered_model_tags,
        [{"model_id": mid, "key": k, "value": v} for k, v in dict(items).items()],
        keys=("model_id", "key"),
        updates=("value",),
    )


def set_model_tag(conn: Connection, name: str, key: str, value: str, now_ms: int) -> None:
    mid = model_id(conn, name)
    _set_model_tags(conn, mid, [(key, value)])
    _touch_model(conn, mid, now_ms)


def delete_model_tag(conn: Connection, name: str, key: str, now_ms: int) -> None:
    mid = model_id(conn, name)
    gone = conn.execute(
        delete(registered_model_tags).where(
            registered_model_tags.c.model_id == mid, registered_model_tags.c.key == key
        )
    ).rowcount
    if not gone:
        raise NotFound(f"registered model {name!r} has no tag {key!r}")
    _touch_model(conn, mid, now_ms)


def get_model(conn: Connection, name: str) -> RegisteredModel:
    return get_model_by_id(conn, model_id(conn, name))


def get_model_by_id(conn: Connection, mid: int) -> RegisteredModel:
    row = conn.execute(select(registered_models).where(registered_models.c.model_id == mid)).first()
    if row is None:
        raise NotFound(f"registered model {mid} does not exist")
    return load_models(conn, [row])[0]


def load_models(conn: Connection, rows: Sequence[Any]) -> list[RegisteredModel]:
    """Models with their tags, aliases and latest versions, reading each table once."""
    found = {
        r.model_id: RegisteredModel(
            name=r.name,
            creation_timestamp=r.creation_timestamp,
            last_updated_timestamp=r.last_updated_timestamp,
            description=r.description,
        )
        for r in rows
    }
    for ids in _chunks(list(found)):
        for row in conn.execute(
            select(registered_model_tags)
            .where(registered_model_tags.c.model_id.in_(ids))
            .order_by(registered_model_tags.c.key)
        ):
            found[row.model_id].tags[row.key] = row.value
        for row in conn.execute(
            select(registered_model_aliases)
            .where(registered_model_aliases.c.model_id.in_(ids))
            .order_by(registered_model_aliases.c.alias)
        ):
            found[row.model_id].aliases[row.alias] = row.version
        for mid, version in _latest_per_stage(conn, ids):
            found[mid].latest_versions.append(version)
    return [found[r.model_id] for r in rows]


def _latest_per_stage(
    conn: Connection, ids: Sequence[int], stages: Sequence[str] = STAGES
) -> list[tuple[int, ModelVersion]]:
    newest = (
        select(
            model_versions.c.model_id,
            func.max(model_versions.c.version).label("version"),
        )
        .where(
            model_versions.c.model_id.in_(list(ids)),
            model_versions.c.status == READY,
            model_versions.c.current_stage.in_(list(stages)),
        )
        .group_by(model_versions.c.model_id, model_versions.c.current_stage)
        .subquery()
    )
    query = _versions_query().join(
        newest,
        and_(
            newest.c.model_id == model_versions.c.model_id,
            newest.c.version == model_versions.c.version,
        ),
    )
    rows = list(conn.execute(query))
    order = {stage: i for i, stage in enumerate(STAGES)}
    rows.sort(key=lambda r: (r.model_id, order[r.current_stage]))
    return list(zip([r.model_id for r in rows], load_versions(conn, rows), strict=True))


def latest_versions(conn: Connection, name: str, stages: Sequence[str]) -> list[ModelVersion]:
    """The newest READY version in each of `stages` (all when empty), in stage order."""
    mid = model_id(conn, name)
    return [v for _, v in _latest_per_stage(conn, [mid], stages or STAGES)]


def newest_version(conn: Connection, name: str, stage: str | None) -> ModelVersion:
    """The newest READY version, in `stage` when given."""
    mid = model_id(conn, name)
    conditions = [model_versions.c.model_id == mid, model_versions.c.status == READY]
    if stage is not None:
        conditions.append(model_versions.c.current_stage == stage)
    row = conn.execute(
        _versions_query().where(*conditions).order_by(model_versions.c.version.desc()).limit(1)
    ).first()
    if row is None:
        where = f" in stage {stage}" if stage is not None else ""
        raise NotFound(f"registered model {name!r} has no READY version{where}")
    return load_versions(conn, [row])[0]


# Aliases


def set_alias(conn: Connection, name: str, alias: str, version: int, now_ms: int) -> int:
    """Points `alias` at `version`; returns the version it pointed at before (0: new)."""
    mid = model_id(conn, name)
    _version_row(conn, mid, name, version)
    previous = conn.execute(
        select(registered_model_aliases.c.version).where(
            registered_model_aliases.c.model_id == mid, registered_model_aliases.c.alias == alias
        )
    ).scalar()
    dialect.upsert(
        conn,
        registered_model_aliases,
        [{"model_id": mid, "alias": alias, "version": version}],
        keys=("model_id", "alias"),
        updates=("version",),
    )
    _touch_model(conn, mid, now_ms)
    return int(previous or 0)


def delete_alias(conn: Connection, name: str, alias: str, now_ms: int) -> None:
    mid = model_id(conn, name)
    gone = conn.execute(
        delete(registered_model_aliases).where(
            registered_model_aliases.c.model_id == mid, registered_model_aliases.c.alias == alias
        )
    ).rowcount
    if not gone:
        raise NotFound(f"registered model {name!r} has no alias {alias!r}")
    _touch_model(conn, mid, now_ms)


def version_by_alias(conn: Connection, name: str, alias: str) -> ModelVersion:
    mid = model_id(conn, name)
    version = conn.execute(
        select(registered_model_aliases.c.version).where(
            registered_model_aliases.c.model_id == mid, registered_model_aliases.c.alias == alias
        )
    ).scalar()
    if version is None:
        raise NotFound(f"registered model {name!r} has no alias {alias!r}")
    return get_version_by_id(conn, mid, int(version))


# Model versions


def require_run(conn: Connection, run_id: str) -> None:
    stage = conn.execute(select(runs.c.lifecycle_stage).where(runs.c.run_id == run_id)).scalar()
    if stage is None:
        raise NotFound(f"run {run_id} does not exist")
    if stage != ACTIVE:
        raise FailedPrecondition(f"run {run_id} is deleted; restore it before registering it")


def create_version(conn: Connection, new: NewVersion, now_ms: int) -> tuple[int, int]:
    """Inserts the next version of a model; returns (model id, version number).

    The counter update takes the model row's lock until commit, so concurrent creators,
    in this process or in another replica, queue on it and each gets its own number.
    """
    if new.run_id:
        require_run(conn, new.run_id)
    counter = registered_models.c.latest_version
    row = dialect.update_returning(
        conn,
        update(registered_models)
        .where(registered_models.c.name == new.name)
        .values(
            latest_version=counter + 1,
            last_updated_timestamp=_bumped(registered_models.c.last_updated_timestamp, now_ms),
        ),
        registered_models.c.model_id,
        counter,
    )
    if row is None:
        raise NotFound(f"registered model {new.name!r} does not exist")
    mid, version = int(row[0]), int(row[1])
    conn.execute(
        insert(model_versions).values(
            model_id=mid,
            version=version,
            creation_timestamp=now_ms,
            last_updated_timestamp=now_ms,
            description=new.description,
            source=new.source,
            storage_location=new.storage_location,
            run_id=new.run_id or None,
            run_link=new.run_link,
            current_stage=STAGE_NONE,
            status=READY,
            status_message="",
        )
    )
    _set_version_tags(conn, mid, version, new.tags)
    return mid, version


def _version_row(conn: Connection, mid: int, name: str, version: int) -> Any:
    row = conn.execute(
        select(model_versions).where(
            model_versions.c.model_id == mid, model_versions.c.version == version
        )
    ).first()
    if row is None:
        raise NotFound(f"registered model {name!r} has no version {version}")
    return row


def _touch_version(conn: Connection, mid: int, version: int, now_ms: int, **values: Any) -> None:
    column = model_versions.c.last_updated_timestamp
    conn.execute(
        update(model_versions)
        .where(model_versions.c.model_id == mid, model_versions.c.version == version)
        .values(last_updated_timestamp=_bumped(column, now_ms), **values)
    )


def update_version_description(
    conn: Connection, name: str, version: int, description: str, expected_ms: int, now_ms: int
) -> int:
    mid = model_id(conn, name)
    row = _version_row(conn, mid, name, version)
    what = f"version {version} of registered model {name!r}"
    _require_unchanged(row.last_updated_timestamp, expected_ms, what)
    _touch_version(conn, mid, version, now_ms, description=description)
    return mid


def delete_version(conn: Connection, name: str, version: int, now_ms: int) -> None:
    """Removes a version with its tags and the aliases pointing at it. Its number is
    never handed out again."""
    mid = model_id(conn, name)
    _version_row(conn, mid, name, version)
    conn.execute(
        delete(registered_model_aliases).where(
            registered_model_aliases.c.model_id == mid,
            registered_model_aliases.c.version == version,
        )
    )
    conn.execute(
        delete(model_version_tags).where(
            model_version_tags.c.model_id == mid, model_version_tags.c.version == version
        )
    )
    conn.execute(
        delete(model_versions).where(
            model_versions.c.model_id == mid, model_versions.c.version == version
        )
    )
    _touch_model(conn, mid, now_ms)


def _set_version_tags(
    conn: Connection, mid: int, version: int, items: Sequence[tuple[str, str]]
) -> None:
    dialect.upsert(
        conn,
        model_version_tags,
        [
            {"model_id": mid, "version": version, "key": k, "value": v}
            for k, v in dict(items).items()
        ],
        keys=("model_id", "version", "key"),
        updates=("value",),
    )


def set_version_tag(
    conn: Connection, name: str, version: int, key: str, value: str, now_ms: int
) -> None:
    mid = model_id(conn, name)
    _version_row(conn, mid, name, version)
    _set_version_tags(conn, mid, version, [(key, value)])
    _touch_version(conn, mid, version, now_ms)


def delete_version_tag(conn: Connection, name: str, version: int, key: str, now_ms: int) -> None:
    mid = model_id(conn, name)
    _version_row(conn, mid, name, version)
    gone = conn.execute(
        delete(model_version_tags).where(
            model_version_tags.c.model_id == mid,
            model_version_tags.c.version == version,
            model_version_tags.c.key == key,
        )
    ).rowcount
    if not gone:
        raise NotFound(f"version {version} of registered model {name!r} has no tag {key!r}")
    _touch_version(conn, mid, version, now_ms)


def transition_stage(
    conn: Connection, name: str, version: int, stage: str, archive_existing: bool, now_ms: int
) -> int:
    """Moves a READY version to `stage`; with `archive_existing`, the model's other
    versions in that (active) stage move to Archived in the same transaction."""
    mid = model_id(conn, name)
    row = _version_row(conn, mid, name, version)
    if row.status != READY:
        raise FailedPrecondition(
            f"version {version} of registered model {name!r} is {row.status}; only READY "
            "versions change stage"
        )
    if archive_existing and stage in ACTIVE_STAGES:
        column = model_versions.c.last_updated_timestamp
        conn.execute(
            update(model_versions)
            .where(
                model_versions.c.model_id == mid,
                model_versions.c.current_stage == stage,
                model_versions.c.version != version,
            )
            .values(current_stage=STAGE_ARCHIVED, last_updated_timestamp=_bumped(column, now_ms))
        )
    _touch_version(conn, mid, version, now_ms, current_stage=stage)
    _touch_model(conn, mid, now_ms)
    return mid


def get_version(conn: Connection, name: str, version: int) -> ModelVersion:
    mid = model_id(conn, name)
    _version_row(conn, mid, name, version)
    return get_version_by_id(conn, mid, version)


def get_version_by_id(conn: Connection, mid: int, version: int) -> ModelVersion:
    row = conn.execute(
        _versions_query().where(
            model_versions.c.model_id == mid, model_versions.c.version == version
        )
    ).first()
    if row is None:
        raise NotFound(f"version {version} of registered model {mid} does not exist")
    return load_versions(conn, [row])[0]


def load_versions(conn: Connection, rows: Sequence[Any]) -> list[ModelVersion]:
    """Versions (rows of `_versions_query`) with their tags and aliases."""
    found = {(r.model_id, r.version): _version(r) for r in rows}
    for ids in _chunks(sorted({r.model_id for r in rows})):
        for row in conn.execute(
            select(model_version_tags)
            .where(model_version_tags.c.model_id.in_(ids))
            .order_by(model_version_tags.c.key)
        ):
            target = found.get((row.model_id, row.version))
            if target is not None:
                target.tags[row.key] = row.value
        for row in conn.execute(
            select(registered_model_aliases)
            .where(registered_model_aliases.c.model_id.in_(ids))
            .order_by(registered_model_aliases.c.alias)
        ):
            target = found.get((row.model_id, row.version))
            if target is not None:
                target.aliases.append(row.alias)
    return [found[(r.model_id, r.version)] for r in rows]


def _version(row: Any) -> ModelVersion:
    return ModelVersion(
        name=row.name,
        version=row.version,
        creation_timestamp=row.creation_timestamp,
        last_updated_timestamp=row.last_updated_timestamp,
        description=row.description,
        source=row.source,
        storage_location=row.storage_location,
        run_id=row.run_id or "",
        run_link=row.run_link,
        current_stage=row.current_stage,
        status=row.status,
        status_message=row.status_message,
    )


# Search


def _page(
    conn: Connection,
    query: Any,
    keys: Sequence[search.SortKey],
    conditions: list[Any],
    fingerprint: str,
    page_size: int,
    page_token: str,
) -> tuple[list[Any], str]:
    """One keyset page: the rows after the token's, and the next token ('' at the end)."""
    if page_token:
        last = search.decode_page_token(page_token, fingerprint)
        conditions.append(search.keyset_after(keys, last))
    labels = [k.expr.label(f"_k{i}") for i, k in enumerate(keys)]
    found = conn.execute(
        query.add_columns(*labels)
        .where(*conditions)
        .order_by(*search.order_clauses(keys))
        .limit(page_size + 1)
    ).all()
    if len(found) <= page_size:
        return list(found), ""
    found = found[:page_size]
    last_row = found[-1]._mapping
    token = search.encode_page_token(fingerprint, [last_row[f"_k{i}"] for i in range(len(keys))])
    return list(found), token


def search_models(
    conn: Connection, filter_text: str, order_by: Sequence[str], page_size: int, page_token: str
) -> Page[RegisteredModel]:
    where = search.compile_registered_model_filter(filter_text)
    keys = search.compile_registered_model_order(order_by)
    fingerprint = search.query_fingerprint("registered_models", filter_text, list(order_by))
    conditions: list[Any] = [] if where is None else [where]
    found, token = _page(
        conn, select(registered_models), keys, conditions, fingerprint, page_size, page_token
    )
    return Page(load_models(conn, found), token)


def search_versions(
    conn: Connection,
    filter_text: str,
    order_by: Sequence[str],
    page_size: int,
    page_token: str,
    run_id: str = "",
) -> Page[ModelVersion]:
    """Versions matching the filter; `run_id` (ListRunModelVersions) narrows further."""
    where = search.compile_model_version_filter(filter_text)
    keys = search.compile_model_version_order(order_by)
    fingerprint = search.query_fingerprint("model_versions", filter_text, list(order_by), run_id)
    conditions: list[Any] = [] if where is None else [where]
    if run_id:
        conditions.append(model_versions.c.run_id == run_id)
    found, token = _page(
        conn, _versions_query(), keys, conditions, fingerprint, page_size, page_token
    )
    return Page(load_versions(conn, found), token)


def _chunks(items: Iterable[int]) -> list[list[int]]:
    ordered = list(items)
    return [ordered[i : i + _CHUNK] for i in range(0, len(ordered), _CHUNK)]
