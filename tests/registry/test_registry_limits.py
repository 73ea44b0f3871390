"""Limits that span two inputs: a `runs:/` source resolves to the run's artifact URI
plus a path, each at its own maximum, and the stored location must hold the sum."""

from __future__ import annotations

from tests.registry.conftest import Api, create_model, create_version, get_version, unique
from trackway.gen.tracking.v1 import tracking_service_pb2 as tpb

# A run's artifact URI is its experiment's location plus `/<run id>/artifacts`.
RUN_SUFFIX = len("/0123456789abcdef0123456789abcdef/artifacts")


def test_longest_run_location_plus_longest_path_is_stored(api: Api) -> None:
    # The longest run artifact URI that tracking stores (runs.artifact_uri holds 1,000).
    location = f"{api.root}/{'x' * (1000 - RUN_SUFFIX - len(api.root) - 1)}"
    exp = api.tracking.CreateExperiment(
        tpb.CreateExperimentRequest(name=unique("exp"), artifact_location=location)
    ).experiment
    run = api.tracking.CreateRun(tpb.CreateRunRequest(experiment_id=exp.experiment_id)).run.info
    assert len(run.artifact_uri) == 1000
    prefix = f"runs:/{run.run_id}/"
    path = "/".join(["p" * 9] * 100)[: 1000 - len(prefix)].rstrip("/")
    create_model(api.registry, "m")
    version = create_version(api.registry, "m", prefix + path)
    assert version.storage_location == f"{run.artifact_uri}/{path}"
    assert len(version.storage_location) > 1900
    assert get_version(api.registry, "m", 1).storage_location == version.storage_location
