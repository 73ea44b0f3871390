"""Readable names for runs created without one, in MLflow's `adjective-noun-123` shape."""

from __future__ import annotations

import secrets

_ADJECTIVES = (
    "amber",
    "bold",
    "brisk",
    "calm",
    "clever",
    "crisp",
    "dapper",
    "eager",
    "fleet",
    "gentle",
    "glad",
    "keen",
    "lucid",
    "merry",
    "nimble",
    "placid",
    "quiet",
    "rapid",
    "sly",
    "sunny",
    "tidy",
    "vivid",
    "wise",
    "zesty",
)
_NOUNS = (
    "badger",
    "crane",
    "dingo",
    "eel",
    "falcon",
    "gecko",
    "heron",
    "ibis",
    "jackal",
    "koala",
    "lark",
    "mole",
    "newt",
    "otter",
    "panda",
    "quail",
    "robin",
    "seal",
    "tapir",
    "vole",
    "wren",
    "yak",
    "zebra",
    "finch",
)


def run_name() -> str:
    return f"{secrets.choice(_ADJECTIVES)}-{secrets.choice(_NOUNS)}-{secrets.randbelow(1000):03d}"
