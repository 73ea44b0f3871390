"""Upload sessions and multipart uploads carry the replica tag of their staging folder:
servers that share the folder share them; a server with another folder names the one
that holds them instead of answering NOT_FOUND."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from trackway.artifacts import spool
from trackway.artifacts.multipart import MultipartUploads
from trackway.errors import FailedPrecondition, NotFound


def test_processes_on_one_staging_folder_agree_on_one_replica(tmp_path: Path) -> None:
    found: list[spool.Replica] = []
    threads = [
        threading.Thread(target=lambda: found.append(spool.replica(tmp_path))) for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({r.tag for r in found}) == 1
    stored = json.loads((tmp_path / spool.REPLICA_FILE).read_text())
    assert stored["tag"] == found[0].tag and stored["host"]
    assert list(tmp_path.glob("*.tmp")) == []


def test_a_session_is_shared_by_its_folder_and_named_elsewhere(tmp_path: Path) -> None:
    here = spool.SessionStore(tmp_path / "one")
    same = spool.SessionStore(tmp_path / "one")
    other = spool.SessionStore(tmp_path / "two")
    assert here.replica == same.replica != other.replica
    session = here.create("1/run/artifacts", "big.bin", 10, "")
    assert len(session.session_id) == 32 and session.session_id.startswith(here.replica.tag)
    assert same.get(session.session_id)[1] == 0
    with pytest.raises(FailedPrecondition, match="another server replica") as elsewhere:
        other.get(session.session_id)
    assert elsewhere.value.metadata["replica"] == here.replica.tag
    assert here.replica.tag in str(elsewhere.value) and other.replica.tag in str(elsewhere.value)
    # Ids that no replica made, and this replica's own ids once gone, do not exist.
    for unknown in ("0" * 32, "f" * 32, other.replica.tag + "0" * 24):
        with pytest.raises(NotFound):
            other.get(unknown)


def test_a_multipart_upload_is_named_elsewhere_and_not_aborted_there(tmp_path: Path) -> None:
    here, other = MultipartUploads(tmp_path / "one"), MultipartUploads(tmp_path / "two")
    upload = here.create("1/run/artifacts", "f.bin", 1)
    assert len(upload.upload_id) == 32 and upload.upload_id.startswith(here.replica.tag)
    with pytest.raises(FailedPrecondition, match="another server replica"):
        other.put_part(upload.upload_id, 1, [b"x"])
    with pytest.raises(FailedPrecondition, match="another server replica"):
        other.abort(upload.upload_id, "1/run/artifacts", "f.bin")
    assert here.get(upload.upload_id) == upload  # untouched by the other replica
    assert here.abort(upload.upload_id, "1/run/artifacts", "f.bin")
    assert not here.abort(upload.upload_id, "1/run/artifacts", "f.bin")  # gone: no error
    with pytest.raises(NotFound):
        other.get("0" * 32)
