"""MLflow 3's logged-model calls, served by the gateway's shim over experiment artifacts."""

from __future__ import annotations

from typing import Any

import pytest

from tests.rest.conftest import unique


def test_logged_model_lifecycle(client: Any) -> None:
    from mlflow.entities import LoggedModelStatus
    from mlflow.exceptions import MlflowException

    exp = client.create_experiment(unique("lm"))
    run_id = client.create_run(exp).info.run_id
    made = client.create_logged_model(
        exp, name="net", source_run_id=run_id, params={"lr": "0.1"}, tags={"a": "1"}
    )
    assert made.model_id.startswith(f"m-{exp}-")
    assert made.status == LoggedModelStatus.PENDING
    assert made.artifact_location == f"mlflow-artifacts:/{exp}/models/{made.model_id}/artifacts"
    client.set_logged_model_tags(made.model_id, {"b": "2"})
    client.delete_logged_model_tag(made.model_id, "a")
    client.log_model_params(made.model_id, {"depth": "3"})
    done = client.finalize_logged_model(made.model_id, LoggedModelStatus.READY)
    assert done.status == LoggedModelStatus.READY
    got = client.get_logged_model(made.model_id)
    assert got.tags == {"b": "2"} and got.params == {"lr": "0.1", "depth": "3"}
    others = [client.create_logged_model(exp, name=f"other-{i}") for i in range(3)]
    named = client.search_logged_models([exp], filter_string="name = 'net'")
    assert [m.model_id for m in named] == [made.model_id]
    seen: list[str] = []
    token = None
    while True:
        page = client.search_logged_models([exp], max_results=2, page_token=token)
        seen += [m.model_id for m in page]
        token = page.token
        if not token:
            break
    assert sorted(seen) == sorted([made.model_id] + [o.model_id for o in others])
    client.delete_logged_model(made.model_id)
    with pytest.raises(MlflowException) as err:
        client.get_logged_model(made.model_id)
    assert err.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    with pytest.raises(MlflowException) as err:
        client.get_logged_model("m-unknown")
    assert err.value.error_code == "RESOURCE_DOES_NOT_EXIST"
