"""A started project run: its process, and the run status that the process's end decides.

The command runs in a process group of its own, so that stopping it reaches everything
it started. Ctrl-C (or SIGTERM) in the launcher is forwarded to that group; after a grace
period the group is killed. The status is FINISHED for exit code 0, FAILED for any
other, and KILLED when the launcher stopped it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from types import FrameType
from typing import TYPE_CHECKING

from trackway.errors import TrackwayError

if TYPE_CHECKING:
    from trackway.client import TrackwayClient
    from trackway.projects.fetch import Source

STOP_GRACE_SECONDS = 10.0


class Interrupted(KeyboardInterrupt):
    """The launcher got a stop signal while waiting for the command (SIGINT or SIGTERM)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class ExecutionError(TrackwayError):
    """A project run ended FAILED or KILLED (raised by a synchronous `projects.run`)."""

    reason = "PROJECT_RUN_FAILED"

    @property
    def run_id(self) -> str:
        return self.metadata.get("run_id", "")

    @property
    def status(self) -> str:
        return self.metadata.get("status", "")


class SubmittedRun:
    """A project run in progress (or done): `run_id`, `wait()`, `get_status()`, `cancel()`."""

    def __init__(
        self,
        run_id: str,
        experiment_id: str,
        command: str,
        process: subprocess.Popen[bytes],
        client: TrackwayClient,
        source: Source,
    ) -> None:
        self.run_id = run_id
        self.experiment_id = experiment_id
        self.command = command
        self._process = process
        self._client = client
        self._source = source
        self._status = "RUNNING"
        self._stopping = False
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._watcher: threading.Thread | None = None

    @property
    def pid(self) -> int:
        return self._process.pid

    @property
    def exit_code(self) -> int | None:
        """The command's exit code (negative: the signal that ended it); None while running."""
        return self._process.returncode

    def get_status(self) -> str:
        """RUNNING, then FINISHED, FAILED or KILLED once the run's status is set."""
        return self._status

    def wait(self) -> bool:
        """Waits for the command and for the run's final status; True when FINISHED.
        Ctrl-C while waiting stops the command (KILLED) and is raised again."""
        if self._watcher is None:
            self._supervise()
        else:
            try:
                while not self._done.wait(0.5):
                    pass
            except KeyboardInterrupt:
                self.cancel()
                raise
        return self._status == "FINISHED"

    def cancel(self) -> None:
        """Stops the command (SIGTERM to its group, SIGKILL after a grace period); the
        run ends KILLED. Returns once the status is set."""
        if self._done.is_set():
            return
        self._stop(signal.SIGTERM)
        if self._watcher is None:
            self._finish("KILLED")
        else:
            self._done.wait()

    def watch_in_background(self) -> None:
        """For an asynchronous run: a thread waits for the command and sets the status.
        It is not a daemon, so the interpreter waits for the run before it exits."""
        self._watcher = threading.Thread(
            target=self._supervise, name=f"trackway-project-{self.run_id[:8]}", daemon=False
        )
        self._watcher.start()

    def _supervise(self) -> None:
        try:
            code = self._process.wait()
        except KeyboardInterrupt as exc:
            self._stop(exc.signum if isinstance(exc, Interrupted) else signal.SIGINT)
            self._finish("KILLED")
            raise
        self._finish("KILLED" if self._stopping else "FINISHED" if code == 0 else "FAILED")

    def _stop(self, signum: int) -> None:
        """Forwards `signum` to the command's process group; kills the group if it is
        still there after the grace period (or at a second Ctrl-C)."""
        self._stopping = True
        self._signal(signum)
        try:
            self._process.wait(STOP_GRACE_SECONDS)
        except (subprocess.TimeoutExpired, KeyboardInterrupt):
            self._signal(signal.SIGKILL)
            self._process.wait()
        # What the command left behind in its group (it exited, its children may not have).
        self._signal(signal.SIGKILL)

    def _signal(self, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._process.pid, signum)

    def _finish(self, status: str) -> None:
        with self._lock:
            if self._done.is_set():
                return
            self._status = status
            try:
                self._client.set_terminated(self.run_id, status)
            except TrackwayError as exc:
                print(
                    f"trackway: warning: run {self.run_id} ended {status}, but its status "
                    f"could not be saved: {exc}",
                    file=sys.stderr,
                )
            finally:
                self._source.cleanup()
                with contextlib.suppress(TrackwayError):
                    self._client.close(timeout=5.0)
                self._done.set()

    def __repr__(self) -> str:
        return f"<SubmittedRun {self.run_id} {self._status}>"


@contextlib.contextmanager
def stop_signals_raise() -> Iterator[None]:
    """While waiting in the main thread, SIGTERM raises Interrupted as Ctrl-C does, so that
    the command is stopped and the run ends KILLED rather than being left RUNNING."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        raise Interrupted(signum)

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
