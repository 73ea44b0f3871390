"""What a test needs from the machine: under CI=true its absence fails the test, since CI
must run every test; elsewhere the test is skipped with what to install or start."""

from __future__ import annotations

import importlib
import os
from types import ModuleType
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


def module(name: str) -> ModuleType:
    """A module from the test extras, imported (`make test` installs them all)."""
    try:
        return importlib.import_module(name)
    except ImportError as err:
        unavailable(f"{name} cannot be imported ({err}); `make test` installs the test extras")
