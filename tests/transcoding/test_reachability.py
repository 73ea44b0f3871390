"""Every unary RPC answers over HTTP: a minimal request to each route gets a proper
google.rpc.Status error or a success, never "no such route" and never a 500."""

from __future__ import annotations

from tests.transcoding.conftest import Api
from trackway.rest.http_rules import PathTemplate
from trackway.rest.transcode import transcoded_bindings

# A plausible (and missing) value for each path variable; an unknown name gets "x".
_VALUES = {
    "run_id": "0" * 32,
    "scope.run_id": "0" * 32,
    "experiment_id": "999999",
    "scope.experiment_id": "999999",
    "name": "no-such-model",
    "version": "1",
    "key": "some/key",
    "alias": "champion",
    "session_id": "no-such-session",
    "metric_key": "train/loss",
    "path": "dir/file.txt",
}


def _path(template: PathTemplate) -> str:
    out = template.source
    for variable in template.variables:
        start = out.index("{" + variable.field_path)
        end = out.index("}", start)
        out = out[:start] + _VALUES.get(variable.field_path, "x") + out[end + 1 :]
    return out


def test_every_route_of_every_served_service_reaches_its_rpc(sqlite_api: Api) -> None:
    served = transcoded_bindings(sqlite_api.server.service_names)
    assert {b.service.rsplit(".", 1)[-1] for b in served} >= {
        "TrackingService",
        "ArtifactService",
        "ModelRegistryService",
    }
    failures = []
    for binding in served:
        body: dict[str, str] | None = {} if binding.body else None
        reply = sqlite_api.call(binding.method, _path(binding.template), body)
        answer = reply.json()
        reasons = [d.get("reason") for d in answer.get("details", [])] if reply.ok is False else []
        wrong = (
            reply.headers["content-type"] != "application/json"
            or reply.status_code >= 500
            or reply.status_code in (405, 413)
            or (not reply.ok and set(answer) != {"code", "message", "details"})
            or "ENDPOINT_NOT_FOUND" in reasons
            or "MALFORMED_REQUEST" in reasons  # the transcoder could not build the message
        )
        if wrong:
            failures.append(
                f"{binding.rpc} {binding.method} {binding.template.source}: "
                f"{reply.status_code} {answer}"
            )
    assert not failures, "\n".join(failures)
