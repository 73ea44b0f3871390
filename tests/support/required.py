"""What a test needs from the machine: under CI=true its absence fails the test, since CI
must run every test; elsewhere the test is skipped with what to install or start."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def unavailable(message: str) -> NoReturn:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message} (CI must run this test; `make test` installs and starts it)")
    pytest.skip(message)


def service_url(env: str, what: str) -> str:
    """The address of a test service that `make test` (scripts/test-services.sh) starts."""
    value = os.environ.get(env)
    if value:
        return value
    unavailable(f"{env} is not set; run `make test` (scripts/test-services.sh) to start {what}")
