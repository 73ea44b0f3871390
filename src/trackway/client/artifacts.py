"""ArtifactService methods of TrackwayClient, over the transfer code in
`trackway.artifacts.client` (resumable uploads, resumed downloads, progress bars)."""

from __future__ import annotations

import os
from pathlib import Path

from trackway.artifacts import client as transfer
from trackway.client.base import ClientBase
from trackway.gen.artifacts.v1 import artifact_pb2
from trackway.gen.artifacts.v1 import artifact_service_pb2 as pb

FileInfo = artifact_pb2.FileInfo


class ArtifactMethods(ClientBase):
    """Paths are relative to a run's artifact root, or to an experiment's when the
    `experiment_id` keyword is given instead of a run id."""

    def _scope(self, run_id: str | None, experiment_id: str | None) -> artifact_pb2.ArtifactScope:
        return transfer.scope(run_id=run_id or "", experiment_id=experiment_id or "")

    def log_artifact(
        self,
        run_id: str,
        local_path: str | os.PathLike[str],
        artifact_path: str | None = None,
        *,
        progress: bool | None = None,
    ) -> FileInfo:
        """Uploads a file into the folder `artifact_path` (default: the root)."""
        name = Path(local_path).name
        target = f"{artifact_path.strip('/')}/{name}" if artifact_path else name
        return self.upload_artifact(run_id, local_path, target, progress=progress)

    def upload_artifact(
        self,
        run_id: str,
        local_path: str | os.PathLike[str],
        path: str,
        *,
        progress: bool | None = None,
    ) -> FileInfo:
        """Uploads a file to exactly `path`; large files resume after a broken connection."""
        where = self._scope(run_id, None)
        reply = self._retrying(
            lambda: transfer.upload_file(self._channel, where, local_path, path, progress=progress)
        )
        return reply.file

    def log_artifacts(
        self,
        run_id: str,
        local_dir: str | os.PathLike[str],
        artifact_path: str | None = None,
        *,
        progress: bool | None = None,
    ) -> list[FileInfo]:
        """Uploads a folder's files below `artifact_path` (default: the root)."""
        if not Path(local_dir).is_dir():
            raise NotADirectoryError(f"{local_dir} is not a folder")
        where = self._scope(run_id, None)
        return self._retrying(
            lambda: transfer.upload_dir(
                self._channel, where, local_dir, (artifact_path or "").strip("/"), progress=progress
            )
        )

    def list_artifacts(
        self, run_id: str | None = None, path: str = "", *, experiment_id: str | None = None
    ) -> list[FileInfo]:
        """The direct children of a folder, every page."""
        where = self._scope(run_id, experiment_id)
        found: list[FileInfo] = []
        token = ""
        while True:
            reply = self._call(
                self._artifacts.ListArtifacts,
                pb.ListArtifactsRequest(scope=where, path=path, page_token=token),
            )
            found.extend(reply.files)
            token = reply.next_page_token
            if not token:
                return found

    def stat_artifact(
        self, run_id: str | None = None, path: str = "", *, experiment_id: str | None = None
    ) -> FileInfo:
        return self._call(
            self._artifacts.StatArtifact,
            pb.StatArtifactRequest(scope=self._scope(run_id, experiment_id), path=path),
        ).file

    def download_artifacts(
        self,
        run_id: str,
        path: str,
        dst_path: str | os.PathLike[str],
        *,
        progress: bool | None = None,
    ) -> Path:
        """Downloads a file to `dst_path`, or a folder into the folder `dst_path`."""
        where = self._scope(run_id, None)
        return self._retrying(
            lambda: transfer.download(self._channel, where, path, dst_path, progress=progress)
        )

    def delete_artifact(
        self, run_id: str | None = None, path: str = "", *, experiment_id: str | None = None
    ) -> int:
        """Deletes a file or a folder (not the root); returns how many files went."""
        reply = self._call(
            self._artifacts.DeleteArtifact,
            pb.DeleteArtifactRequest(scope=self._scope(run_id, experiment_id), path=path),
        )
        return int(reply.deleted_files)
