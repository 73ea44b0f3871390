"""The SQL schema of the tracking store, as SQLAlchemy Core tables.

Alembic migrations in `trackway/store/migrations` create exactly this schema; a test
compares the two. Times are epoch milliseconds. Metric points reference a series row
(one per run and key) by integer id, which keeps the history index narrow: history
reads walk `(series_id, step, id)` and never touch other runs' points.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from trackway.store.dialect import MySQLDouble

# SQLite only aliases the rowid for a column declared exactly INTEGER PRIMARY KEY.
BigId = BigInteger().with_variant(Integer(), "sqlite")
# MySQL's DOUBLE holds neither NaN nor infinities; MySQLDouble maps them (see dialect).
Double = (
    Float(precision=53)
    .with_variant(Float(), "sqlite")
    .with_variant(MySQLDouble(), "mysql", "mariadb")
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

LIFECYCLE_STAGES = ("active", "deleted")
RUN_STATUSES = ("RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED")

experiments = Table(
    "experiments",
    metadata,
    Column("experiment_id", BigId, primary_key=True, autoincrement=True),
    Column("name", String(500), nullable=False, unique=True),
    Column("artifact_location", String(1000), nullable=False),
    Column("lifecycle_stage", String(20), nullable=False),
    Column("creation_time", BigInteger, nullable=False),
    Column("last_update_time", BigInteger, nullable=False),
    CheckConstraint("lifecycle_stage IN ('active', 'deleted')", name="lifecycle_stage"),
    # Ids are never reused, even after a purge: SQLite needs AUTOINCREMENT for that.
    sqlite_autoincrement=True,
)

experiment_tags = Table(
    "experiment_tags",
    metadata,
    Column(
        "experiment_id",
        BigId,
        ForeignKey("experiments.experiment_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("key", String(250), primary_key=True),
    Column("value", Text, nullable=False),
)

runs = Table(
    "runs",
    metadata,
    Column("run_id", String(32), primary_key=True),
    Column(
        "experiment_id",
        BigId,
        ForeignKey("experiments.experiment_id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("name", String(250), nullable=False),
    Column("user_id", String(256), nullable=False),
    Column("status", String(20), nullable=False),
    Column("start_time", BigInteger, nullable=False),
    Column("end_time", BigInteger, nullable=True),
    Column("deleted_time", BigInteger, nullable=True),
    Column("lifecycle_stage", String(20), nullable=False),
    # The experiment's location (at most 1,000) plus "/<run id>/artifacts".
    Column("artifact_uri", String(2048), nullable=False),
    Column("parent_run_id", String(32), nullable=True),
    # A run's lease (CreateRun's lease_seconds, HeartbeatRun): its length, and when it
    # runs out unless renewed. The length is NULL for a run without a lease; the expiry
    # is NULL too once the run leaves RUNNING, so the index below holds only live leases
    # and the sweeper's range scan for expired ones never walks finished runs.
    Column("lease_seconds", Integer, nullable=True),
    Column("lease_expire_time", BigInteger, nullable=True),
    CheckConstraint("lifecycle_stage IN ('active', 'deleted')", name="lifecycle_stage"),
    CheckConstraint(
        "status IN ('RUNNING', 'SCHEDULED', 'FINISHED', 'FAILED', 'KILLED')", name="status"
    ),
    Index(None, "experiment_id", "start_time"),
    Index(None, "parent_run_id"),
    Index(None, "lease_expire_time"),
)

params = Table(
    "params",
    metadata,
    Column("run_id", String(32), ForeignKey("runs.run_id", ondelete="CASCADE"), primary_key=True),
    Column("key", String(250), primary_key=True),
    Column("value", Text, nullable=False),
    Index(None, "key", "value", mysql_length={"value": 255}),
)

tags = Table(
    "tags",
    metadata,
    Column("run_id", String(32), ForeignKey("runs.run_id", ondelete="CASCADE"), primary_key=True),
    Column("key", String(250), primary_key=True),
    Column("value", Text, nullable=False),
    Index(None, "key", "value", mysql_length={"value": 255}),
)

# One row per (run, metric key): the series id that points reference, and the latest
# point (greatest step, then timestamp, then value), maintained in the transaction that
# writes the points. A NULL last_value is NaN.
metric_series = Table(
    "metric_series",
    metadata,
    Column("series_id", BigId, primary_key=True, autoincrement=True),
    Column("run_id", String(32), ForeignKey("runs.run_id", ondelete="CASCADE"), nullable=False),
    Column("key", String(250), nullable=False),
    Column("last_step", BigInteger, nullable=False),
    Column("last_timestamp", BigInteger, nullable=False),
    Column("last_value", Double, nullable=True),
    UniqueConstraint("run_id", "key"),
    Index(None, "key", "last_value"),
)

# Append-only metric history. No foreign key: the series row is checked once per
# batch by the writer, not once per point by the database. A NULL value is NaN.
metrics = Table(
    "metrics",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("series_id", BigInteger, nullable=False),
    Column("step", BigInteger, nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    Column("value", Double, nullable=True),
    # The distributed worker (rank, host) that logged the point; NULL for none.
    Column("worker", String(64), nullable=True),
    Index(None, "series_id", "step", "id"),
)

# Per series and block of 2**BLOCK_BITS steps: the point count and the lowest and highest
# point, kept in the transaction that writes the points, so that a downsampled read of a
# long series reads one row per block instead of every point. NULL extremes: only NaN.
BLOCK_BITS = 5

metric_blocks = Table(
    "metric_blocks",
    metadata,
    Column("series_id", BigInteger, primary_key=True),
    Column("block", BigInteger, primary_key=True),
    Column("count", BigInteger, nullable=False),
    Column("min_value", Double, nullable=True),
    Column("min_step", BigInteger, nullable=True),
    Column("min_timestamp", BigInteger, nullable=True),
    Column("max_value", Double, nullable=True),
    Column("max_step", BigInteger, nullable=True),
    Column("max_timestamp", BigInteger, nullable=True),
)

datasets = Table(
    "datasets",
    metadata,
    Column("dataset_id", BigId, primary_key=True, autoincrement=True),
    Column(
        "experiment_id",
        BigId,
        ForeignKey("experiments.experiment_id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("name", String(500), nullable=False),
    Column("digest", String(36), nullable=False),
    Column("source_type", String(64), nullable=False),
    Column("source", Text, nullable=False),
    Column("schema", Text, nullable=False),
    Column("profile", Text, nullable=False),
    UniqueConstraint("experiment_id", "name", "digest"),
)

run_inputs = Table(
    "run_inputs",
    metadata,
    Column("input_id", BigId, primary_key=True, autoincrement=True),
    Column("run_id", String(32), ForeignKey("runs.run_id", ondelete="CASCADE"), nullable=False),
    Column(
        "dataset_id",
        BigId,
        ForeignKey("datasets.dataset_id", ondelete="CASCADE"),
        nullable=False,
    ),
    UniqueConstraint("run_id", "dataset_id"),
)

input_tags = Table(
    "input_tags",
    metadata,
    Column(
        "input_id",
        BigId,
        ForeignKey("run_inputs.input_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("key", String(255), primary_key=True),
    Column("value", String(500), nullable=False),
)

# Write requests already applied, by client-chosen request id (see the service docs).
# `result` is the id of the resource the request created, if any.
idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("request_id", String(64), primary_key=True),
    Column("method", String(100), nullable=False),
    Column("result", String(100), nullable=False),
    Column("created_time", BigInteger, nullable=False),
    Index(None, "created_time"),
)

# The last committed sequence number of each LogStream writer.
log_writers = Table(
    "log_writers",
    metadata,
    Column("writer_id", String(64), primary_key=True),
    Column("last_seq", BigInteger, nullable=False),
    Column("updated_time", BigInteger, nullable=False),
    Index(None, "updated_time"),
)

# MLflow 3's logged models: a model logged into an experiment, with its own files at
# `<experiment location>/models/<model_id>/artifacts`, a status, tags, params and
# metric points. `source_run_id` has no foreign key: it is lineage, as a registry
# version's run is, and purging a run must neither fail on it nor cascade to it.
LOGGED_MODEL_STATUSES = ("PENDING", "READY", "UPLOAD_FAILED")

logged_models = Table(
    "logged_models",
    metadata,
    # `m-` and 32 hex characters.
    Column("model_id", String(36), primary_key=True),
    Column(
        "experiment_id",
        BigId,
        ForeignKey("experiments.experiment_id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("name", String(500), nullable=False),
    # The experiment's location (at most 1,000) plus "/models/<model id>/artifacts".
    Column("artifact_location", String(2048), nullable=False),
    Column("creation_timestamp", BigInteger, nullable=False),
    Column("last_updated_timestamp", BigInteger, nullable=False),
    Column("status", String(20), nullable=False),
    Column("status_message", String(1000), nullable=False),
    # NULL when the client gave none, like `source_run_id`.
    Column("model_type", String(500), nullable=True),
    Column("source_run_id", String(32), nullable=True),
    Column("lifecycle_stage", String(20), nullable=False),
    CheckConstraint("lifecycle_stage IN ('active', 'deleted')", name="lifecycle_stage"),
    CheckConstraint("status IN ('PENDING', 'READY', 'UPLOAD_FAILED')", name="status"),
    # The default search order within experiments, and MLflow's lookups by name.
    Index(None, "experiment_id", "creation_timestamp"),
    Index(None, "name"),
    Index(None, "source_run_id"),
)

logged_model_tags = Table(
    "logged_model_tags",
    metadata,
    Column(
        "model_id",
        String(36),
        ForeignKey("logged_models.model_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("key", String(250), primary_key=True),
    Column("value", Text, nullable=False),
)

logged_model_params = Table(
    "logged_model_params",
    metadata,
    Column(
        "model_id",
        String(36),
        ForeignKey("logged_models.model_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("key", String(250), primary_key=True),
    Column("value", Text, nullable=False),
)

# A model's metric points. The key makes a resent point (same key, step, timestamp and
# run) a no-op: MLflow's `log_model` sends the run's metrics again with the model id.
# `run_id` is "" for a point logged outside a run; it has no foreign key, like
# `source_run_id`. A NULL value is NaN.
logged_model_metrics = Table(
    "logged_model_metrics",
    metadata,
    Column(
        "model_id",
        String(36),
        ForeignKey("logged_models.model_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("key", String(250), primary_key=True),
    Column("step", BigInteger, primary_key=True, autoincrement=False),
    Column("timestamp", BigInteger, primary_key=True, autoincrement=False),
    Column("run_id", String(32), primary_key=True),
    Column("value", Double, nullable=True),
    Column("dataset_name", String(500), nullable=False),
    Column("dataset_digest", String(36), nullable=False),
)

__all__ = [
    "LIFECYCLE_STAGES",
    "LOGGED_MODEL_STATUSES",
    "RUN_STATUSES",
    "datasets",
    "experiment_tags",
    "experiments",
    "idempotency_keys",
    "input_tags",
    "log_writers",
    "logged_model_metrics",
    "logged_model_params",
    "logged_model_tags",
    "logged_models",
    "metadata",
    "metric_blocks",
    "metric_series",
    "metrics",
    "params",
    "run_inputs",
    "runs",
    "tags",
]

# Registers the registry's tables, and users, tokens and permissions.
from trackway.store import auth_schema, registry_schema  # noqa: E402, F401
