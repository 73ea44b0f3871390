"""Bad requests get MLflow's error_code and HTTP status, as MLflow's server answers them."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
import requests

from tests.rest.conftest import Gateway, unique

MISSING_RUN = uuid.uuid4().hex


@pytest.fixture
def run_id(gateway: Gateway) -> str:
    exp = gateway.call("POST", "mlflow/experiments/create", {"name": unique("err")}).json()
    run = gateway.call("POST", "mlflow/runs/create", {"experiment_id": exp["experiment_id"]})
    rid = str(run.json()["run"]["info"]["run_id"])
    gateway.call("POST", "mlflow/runs/log-parameter", {"run_id": rid, "key": "p", "value": "1"})
    return rid


def _deleted_run(gateway: Gateway, rid: str) -> requests.Response:
    gateway.call("POST", "mlflow/runs/delete", {"run_id": rid})
    return gateway.call(
        "POST", "mlflow/runs/log-metric", {"run_id": rid, "key": "m", "value": 1, "timestamp": 1}
    )


def _escape(gateway: Gateway, rid: str) -> requests.Response:
    run = gateway.call("GET", "mlflow/runs/get", run_id=rid).json()["run"]["info"]
    path = f"{run['experiment_id']}/{rid}/artifacts/..%2F..%2Fx"
    return _raw(gateway, "PUT", f"mlflow-artifacts/artifacts/{path}", b"x")


def _raw(gateway: Gateway, method: str, path: str, data: bytes) -> requests.Response:
    return requests.request(method, f"{gateway.url}/api/2.0/{path}", data=data, timeout=30)


Case = Callable[[Gateway, str], requests.Response]
CASES: dict[str, tuple[Case, int, str]] = {
    "missing experiment": (
        lambda g, r: g.call("GET", "mlflow/experiments/get", experiment_id="987654321"),
        404,
        "RESOURCE_DOES_NOT_EXIST",
    ),
    "experiment id not a number": (
        lambda g, r: g.call("GET", "mlflow/experiments/get", experiment_id="abc"),
        400,
        "INVALID_PARAMETER_VALUE",
    ),
    "duplicate experiment name": (
        lambda g, r: g.call(
            "POST",
            "mlflow/experiments/create",
            {
                "name": g.call(
                    "GET",
                    "mlflow/experiments/get",
                    experiment_id=g.call("GET", "mlflow/runs/get", run_id=r).json()["run"]["info"][
                        "experiment_id"
                    ],
                ).json()["experiment"]["name"]
            },
        ),
        400,
        "RESOURCE_ALREADY_EXISTS",
    ),
    "missing required name": (
        lambda g, r: g.call("POST", "mlflow/experiments/create", {}),
        400,
        "INVALID_PARAMETER_VALUE",
    ),
    "missing run": (
        lambda g, r: g.call("GET", "mlflow/runs/get", run_id=MISSING_RUN),
        404,
        "RESOURCE_DOES_NOT_EXIST",
    ),
    "param overwrite": (
        lambda g, r: g.call(
            "POST", "mlflow/runs/log-parameter", {"run_id": r, "key": "p", "value": "2"}
        ),
        400,
        "INVALID_PARAMETER_VALUE",
    ),
    "write to a deleted run": (_deleted_run, 400, "INVALID_PARAMETER_VALUE"),
    "bad metric key": (
        lambda g, r: g.call(
            "POST",
            "mlflow/runs/log-metric",
            {"run_id": r, "key": "../up", "value": 1, "timestamp": 1},
        ),
        400,
        "INVALID_PARAMETER_VALUE",
    ),
    "metric value not a number": (
        lambda g, r: g.call(
            "POST",
            "mlflow/runs/log-metric",
            {"run_id": r, "key": "m", "value": "abc", "timestamp": 1},
        ),
        400,
        "INVALID_PARAMETER_VALUE",
    ),
    "too many metrics in a batch": (
        lambda g, r: g.call(
            "POST",
            "mlflow/runs/log-batch",
            {
                "run_id": r,
                "metrics": [
                    {"key": "m", "value": 1, "timestamp": 1, "step": i} for i in range(1001)
                ],
            },
        ),
        400,
        "INVALID_PARAMETER_VALUE",
    ),
    "bad search filter": (
        lambda g, r: g.call(
            "POST", "mlflow/runs/search", {"experiment_ids": ["0"], "filter": "metrics.x >>> 1"}
        ),
        400,
        "INVALID_PARAMETER_VALUE",
    ),
    "bad run status": (
        lambda g, r: g.call("POST", "mlflow/runs/update", {"run_id": r, "status": "BOGUS"}),
        400,
        "INVALID_PARAMETER_VALUE",
    ),
    "duplicate registered model": (
        lambda g, r: [
            g.call("POST", "mlflow/registered-models/create", {"name": f"dup-{r}"}),
            g.call("POST", "mlflow/registered-models/create", {"name": f"dup-{r}"}),
        ][1],
        400,
        "RESOURCE_ALREADY_EXISTS",
    ),
    "missing registered model": (
        lambda g, r: g.call("GET", "mlflow/registered-models/get", name=f"none-{r}"),
        404,
        "RESOURCE_DOES_NOT_EXIST",
    ),
    "missing model version": (
        lambda g, r: [
            g.call("POST", "mlflow/registered-models/create", {"name": f"mv-{r}"}),
            g.call("GET", "mlflow/model-versions/get", name=f"mv-{r}", version="7"),
        ][1],
        404,
        "RESOURCE_DOES_NOT_EXIST",
    ),
    "model version not a number": (
        lambda g, r: g.call("GET", "mlflow/model-versions/get", name="x", version="one"),
        400,
        "INVALID_PARAMETER_VALUE",
    ),
    "unknown endpoint": (
        lambda g, r: g.call("GET", "mlflow/runs/no-such-thing"),
        404,
        "ENDPOINT_NOT_FOUND",
    ),
    "wrong method": (
        lambda g, r: g.call("GET", "mlflow/runs/log-batch"),
        405,
        "ENDPOINT_NOT_FOUND",
    ),
    "bad JSON": (
        lambda g, r: _raw(g, "POST", "mlflow/runs/log-batch", b"{not json"),
        400,
        "MALFORMED_REQUEST",
    ),
    "JSON that is not an object": (
        lambda g, r: _raw(g, "POST", "mlflow/runs/log-batch", b"[1, 2]"),
        400,
        "MALFORMED_REQUEST",
    ),
    "artifact path escaping the root": (_escape, 400, "INVALID_PARAMETER_VALUE"),
    "artifact of no run": (
        lambda g, r: g.call("GET", f"mlflow-artifacts/artifacts/0/{MISSING_RUN}/artifacts/x"),
        404,
        "RESOURCE_DOES_NOT_EXIST",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_error_code_matches_mlflow(gateway: Gateway, run_id: str, case: str) -> None:
    call, status, code = CASES[case]
    response = call(gateway, run_id)
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error_code"] == code
    assert isinstance(body["message"], str) and body["message"]


def test_mlflow_client_raises_the_code(client: Any) -> None:
    from mlflow.exceptions import MlflowException

    with pytest.raises(MlflowException) as err:
        client.get_run(MISSING_RUN)
    assert err.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    name = unique("dupe")
    client.create_experiment(name)
    with pytest.raises(MlflowException) as err:
        client.create_experiment(name)
    assert err.value.error_code == "RESOURCE_ALREADY_EXISTS"
