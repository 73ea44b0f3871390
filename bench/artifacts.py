"""Artifact transfer through the server: a large upload and download over gRPC.

The client streams the header and 1 MiB chunks from memory, so the figure is the
server's path (receive, hash, spool, commit; read, send), not the client's disk. The
server's RSS growth is its peak during the transfers minus its RSS before them.
Object stores run on local emulators (moto in server mode, Azurite), which hold the
bytes in their own memory: they get a smaller file, and their figures measure the
emulator as much as the server.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator

import grpc

from bench.context import Context
from bench.log import progress
from bench.results import Record, median, record, rounded
from bench.server import MIB, BenchServer, RssSampler, tree_rss
from trackway.gen.artifacts.v1 import artifact_pb2
from trackway.gen.artifacts.v1 import artifact_service_pb2 as pb
from trackway.gen.artifacts.v1 import artifact_service_pb2_grpc as pb_grpc
from trackway.gen.tracking.v1 import tracking_service_pb2 as tpb
from trackway.gen.tracking.v1 import tracking_service_pb2_grpc as tpb_grpc

LOCAL_MIB = int(os.environ.get("TRACKWAY_BENCH_ARTIFACT_MIB", "1024"))
EMULATOR_MIB = int(os.environ.get("TRACKWAY_BENCH_EMULATOR_ARTIFACT_MIB", "256"))
CHUNK = int(os.environ.get("TRACKWAY_BENCH_CHUNK_KIB", "1024")) * 1024
TARGET_MB_S = 400.0
TARGET_RSS_GROWTH_MB = 100.0
_OPTIONS = [("grpc.max_receive_message_length", 64 * MIB)]


def _requests(where: artifact_pb2.ArtifactScope, size: int) -> Iterator[pb.UploadRequest]:
    yield pb.UploadRequest(header=pb.UploadHeader(scope=where, path="blob.bin", size=size))
    block = os.urandom(CHUNK)
    for _ in range(size // CHUNK):
        yield pb.UploadRequest(chunk=block)


def _transfer(server: BenchServer, size: int, repeats: int) -> Record:
    with grpc.insecure_channel(server.target, options=_OPTIONS) as channel:
        tracking = tpb_grpc.TrackingServiceStub(channel)
        exp = tracking.CreateExperiment(tpb.CreateExperimentRequest(name=uuid.uuid4().hex))
        run = tracking.CreateRun(tpb.CreateRunRequest(experiment_id=exp.experiment.experiment_id))
        where = artifact_pb2.ArtifactScope(run_id=run.run.info.run_id)
        art = pb_grpc.ArtifactServiceStub(channel)
        baseline = tree_rss(server.pid)
        ups: list[float] = []
        downs: list[float] = []
        with RssSampler(server.pid) as sampler:
            for _ in range(repeats):
                started = time.perf_counter()
                art.Upload(_requests(where, size))
                ups.append(time.perf_counter() - started)
                started = time.perf_counter()
                got = 0
                for reply in art.Download(pb.DownloadRequest(scope=where, path="blob.bin")):
                    got += len(reply.chunk)
                downs.append(time.perf_counter() - started)
                if got != size:
                    raise RuntimeError(f"downloaded {got} bytes of {size}")
    mb = size / 1e6
    return {
        "mib": size // MIB,
        "upload_mb_s": round(mb / median(ups), 1),
        "download_mb_s": round(mb / median(downs), 1),
        "upload_seconds_each": rounded(ups),
        "download_seconds_each": rounded(downs),
        "server_rss_growth_mb": round((sampler.peak - baseline) / MIB, 1),
        "repeats": repeats,
    }


def _emulators() -> list[tuple[str, str, dict[str, str]]]:
    """(store, artifact root, server env) for each emulator the environment names."""
    found = []
    s3 = os.environ.get("TRACKWAY_TEST_S3_ENDPOINT")
    if s3:
        import boto3

        bucket = f"bench-{uuid.uuid4().hex[:12]}"
        boto3.client(
            "s3",
            endpoint_url=s3,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        ).create_bucket(Bucket=bucket)
        env = {
            "TRACKWAY_S3_ENDPOINT_URL": s3,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
        }
        found.append(("s3_moto", f"s3://{bucket}/artifacts", env))
    azure = os.environ.get("TRACKWAY_TEST_AZURE_CONNECTION_STRING")
    if azure:
        from azure.storage.blob import BlobServiceClient

        container = f"bench-{uuid.uuid4().hex[:12]}"
        BlobServiceClient.from_connection_string(azure).create_container(container)
        env = {"AZURE_STORAGE_CONNECTION_STRING": azure}
        found.append(("azure_azurite", f"az://{container}/artifacts", env))
    return found


def artifact_transfer(ctx: Context) -> list[Record]:
    records = []
    with BenchServer(ctx.tmp) as server:
        progress(f"artifact_transfer: local disk, {LOCAL_MIB} MiB")
        fields = _transfer(server, LOCAL_MIB * MIB, ctx.reps(3))
    ok = (
        fields["upload_mb_s"] >= TARGET_MB_S
        and fields["download_mb_s"] >= TARGET_MB_S
        and fields["server_rss_growth_mb"] <= TARGET_RSS_GROWTH_MB
    )
    records.append(
        record(
            "artifact_transfer",
            store="local",
            **fields,
            target=(
                f">= {TARGET_MB_S:.0f} MB/s each way, RSS growth <= {TARGET_RSS_GROWTH_MB:.0f} MB"
            ),
            meets_target=ok,
        )
    )
    for store, root, env in _emulators():
        progress(f"artifact_transfer: {store}, {EMULATOR_MIB} MiB")
        with BenchServer(ctx.tmp, artifacts_destination=root, env=env) as server:
            fields = _transfer(server, EMULATOR_MIB * MIB, ctx.reps(1))
        records.append(
            record(
                "artifact_transfer",
                store=store,
                **fields,
                target="reported only (emulated store)",
                meets_target=True,
            )
        )
    return records
