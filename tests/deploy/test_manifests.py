"""The Kubernetes manifests: they parse, run as non-root, probe grpc.health.v1 on the gRPC
port, take the store's settings from Secrets, and run commands the CLI really has."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.deploy.conftest import DEPLOY, manifests, named, one
from trackway.config import env_name
from trackway.relay.target import parse_forward_to

IMAGE_REPOSITORY = "ghcr.io/trackway/trackway"


def _containers(pod: dict[str, Any]) -> list[dict[str, Any]]:
    return [*pod.get("initContainers", []), *pod["containers"]]


def _trackway_containers(pod: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for c in _containers(pod) if c["image"].startswith(IMAGE_REPOSITORY + ":")]


def _env(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in container.get("env", [])}


def _server_env_names(parse_trackway: Any) -> set[str]:
    """The TRACKWAY_* variables that `trackway server` reads: one per flag."""
    namespace = parse_trackway(["trackway", "server"])
    return {env_name("--" + k.replace("_", "-")) for k in vars(namespace) if k != "command"}


def test_every_manifest_parses_and_names_itself() -> None:
    found = manifests()
    assert {"central/deployment.yaml", "central/service.yaml", "central/pdb.yaml"} <= set(found)
    assert "sidecar/training-job.yaml" in found
    for name, docs in found.items():
        assert docs, f"{name} is empty"
        for doc in docs:
            assert doc.get("apiVersion") and doc.get("kind"), name
            if doc["kind"] != "Kustomization":
                assert doc["metadata"]["name"], name


def test_kustomization_lists_files_that_exist_and_not_the_secret_example() -> None:
    kustomization = one("Kustomization", "central/")
    for resource in kustomization["resources"]:
        assert (DEPLOY / "k8s" / "central" / resource).is_file(), resource
    assert "secret.example.yaml" not in kustomization["resources"]


def test_one_image_everywhere_with_a_pinned_tag() -> None:
    images = set()
    for docs in manifests().values():
        for doc in docs:
            pod = doc.get("spec", {}).get("template", {}).get("spec")
            if pod:
                images |= {c["image"] for c in _trackway_containers(pod)}
    assert len(images) == 1, images
    (image,) = images
    assert not image.endswith(":latest")


def test_central_deployment_essentials(parse_trackway: Any) -> None:
    deployment = one("Deployment", "central/")
    assert deployment["spec"]["replicas"] == 2
    pod = deployment["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    (container,) = pod["containers"]
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    assert container["resources"]["requests"] and container["resources"]["limits"]
    parse_trackway(["trackway", *container["args"]])

    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"grpc": 50051, "http": 5000}
    env = _env(container)
    assert env["TRACKWAY_GRPC_PORT"]["value"] == str(ports["grpc"])
    assert env["TRACKWAY_HTTP_PORT"]["value"] == str(ports["http"])
    for kind in ("startupProbe", "livenessProbe", "readinessProbe"):
        probe = container[kind]
        assert set(probe) & {"grpc", "httpGet", "exec", "tcpSocket"} == {"grpc"}, kind
        assert probe["grpc"]["port"] == ports["grpc"], kind
    assert container["readinessProbe"]["grpc"]["service"] == "trackway.tracking.v1.TrackingService"

    # Writable places are volumes, since the root filesystem is read-only.
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert "emptyDir" in volumes[mounts["/tmp"]]


def test_central_settings_come_from_the_secret(parse_trackway: Any) -> None:
    container = one("Deployment", "central/")["spec"]["template"]["spec"]["containers"][0]
    env = _env(container)
    secret = named("Secret", "trackway-store", "central/")
    keys = set(secret["stringData"])
    for name in (
        "TRACKWAY_BACKEND_STORE_URI",
        "TRACKWAY_ARTIFACTS_DESTINATION",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
    ):
        ref = env[name]["valueFrom"]["secretKeyRef"]
        assert ref["name"] == secret["metadata"]["name"], name
        assert ref["key"] in keys, name
        assert not ref.get("optional"), f"{name} must not be optional"
    for entry in env.values():
        ref = entry.get("valueFrom", {}).get("secretKeyRef")
        if ref:
            assert ref["key"] in keys, f"{entry['name']} reads a key the example lacks"
    # Every TRACKWAY_* variable is one that `trackway server` reads.
    known = _server_env_names(parse_trackway)
    assert {n for n in env if n.startswith("TRACKWAY_")} <= known


def test_central_runs_with_token_auth_and_a_bootstrap_admin_secret() -> None:
    pod = one("Deployment", "central/")["spec"]["template"]["spec"]
    env = _env(pod["containers"][0])
    assert env["TRACKWAY_AUTH"]["value"] == "token"
    token_file = Path(env["TRACKWAY_BOOTSTRAP_ADMIN_TOKEN_FILE"]["value"])
    mounts = {m["mountPath"]: m["name"] for m in pod["containers"][0]["volumeMounts"]}
    volume = {v["name"]: v for v in pod["volumes"]}[mounts[str(token_file.parent)]]
    secret = named("Secret", volume["secret"]["secretName"], "central/")
    assert [item["path"] for item in volume["secret"]["items"]] == [token_file.name]
    assert volume["secret"]["items"][0]["key"] in secret["stringData"]


def test_service_and_budget_select_the_central_pods() -> None:
    deployment = one("Deployment", "central/")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    service = one("Service", "central/")
    assert service["spec"]["selector"].items() <= labels.items()
    ports = {p["name"]: (p["port"], p["targetPort"]) for p in service["spec"]["ports"]}
    assert ports == {"grpc": (50051, "grpc"), "http": (5000, "http")}
    budget = one("PodDisruptionBudget", "central/")
    assert budget["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert budget["spec"]["minAvailable"] < deployment["spec"]["replicas"]
    namespaces = {
        d["metadata"].get("namespace")
        for d in (deployment, service, budget, named("Secret", "trackway-store", "central/"))
    }
    assert namespaces == {one("Namespace", "central/")["metadata"]["name"]}


def test_sidecar_is_a_native_sidecar_relay_to_the_central_service(parse_trackway: Any) -> None:
    job = one("Job", "sidecar/")
    pod = job["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    (relay,) = pod["initContainers"]
    assert relay["restartPolicy"] == "Always"  # the native-sidecar marker
    assert relay["securityContext"]["readOnlyRootFilesystem"] is True
    args = parse_trackway(["trackway", *relay["args"]])
    assert args.command == "server"

    # It forwards to the central Service's gRPC port, by its cluster DNS name.
    target = parse_forward_to(args.forward_to)
    service = one("Service", "central/")
    grpc_port = next(p["port"] for p in service["spec"]["ports"] if p["name"] == "grpc")
    assert target.host == f"{service['metadata']['name']}.{service['metadata']['namespace']}.svc"
    assert target.port == grpc_port

    # The spool is a volume, mounted where --spool-dir points.
    mounts = {m["mountPath"]: m["name"] for m in relay["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert args.spool_dir in mounts and "emptyDir" in volumes[mounts[args.spool_dir]]

    # Local only, and the training container talks to it there.
    relay_env = _env(relay)
    assert relay_env["TRACKWAY_HOST"]["value"] == "127.0.0.1"
    # Loopback needs no auth; the relay forwards with its own token.
    assert relay_env["TRACKWAY_AUTH"]["value"] == "none"
    assert relay_env["TRACKWAY_TOKEN"]["valueFrom"]["secretKeyRef"]["key"] == "token"
    port = int(relay_env["TRACKWAY_GRPC_PORT"]["value"])
    (train,) = pod["containers"]
    assert _env(train)["TRACKWAY_TRACKING_URI"]["value"] == f"grpc://127.0.0.1:{port}"

    # Probes ask grpc.health.v1 through `trackway health` (the kubelet cannot reach
    # 127.0.0.1), and the Pod waits long enough for the relay's drain.
    for kind in ("startupProbe", "livenessProbe"):
        parse_trackway(relay[kind]["exec"]["command"])
    assert pod["terminationGracePeriodSeconds"] > args.grace_seconds


@pytest.mark.parametrize("folder", ["central", "sidecar"])
def test_every_trackway_container_drops_root(folder: str) -> None:
    for name, docs in manifests().items():
        if not name.startswith(folder):
            continue
        for doc in docs:
            pod = doc.get("spec", {}).get("template", {}).get("spec")
            if not pod:
                continue
            for container in _trackway_containers(pod):
                security = container["securityContext"]
                assert security["allowPrivilegeEscalation"] is False, container["name"]
                assert security["runAsNonRoot"] is True, container["name"]


def test_readme_names_every_manifest() -> None:
    readme = (DEPLOY / "README.md").read_text()
    for name in manifests():
        assert Path(name).name in readme, name
