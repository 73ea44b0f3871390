"""Reading a server's /metrics the way Prometheus does: over HTTP, in the text format."""

from __future__ import annotations

import time
import urllib.request
from collections.abc import Callable

from prometheus_client.parser import text_string_to_metric_families

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class Scrape:
    """One scrape: every sample by name and labels."""

    def __init__(self, text: str, content_type: str) -> None:
        self.text = text
        self.content_type = content_type
        self.samples: list[tuple[str, dict[str, str], float]] = [
            (s.name, dict(s.labels), s.value)
            for family in text_string_to_metric_families(text)
            for s in family.samples
        ]

    def find(self, name: str, **labels: str) -> list[tuple[dict[str, str], float]]:
        return [
            (found, value)
            for sample, found, value in self.samples
            if sample == name and all(found.get(k) == v for k, v in labels.items())
        ]

    def value(self, name: str, **labels: str) -> float:
        """The sum of the samples that match (0 when none does)."""
        return sum(value for _, value in self.find(name, **labels))

    def has(self, name: str) -> bool:
        return any(sample == name for sample, _, _ in self.samples)

    def label_values(self, name: str, label: str) -> set[str]:
        return {found[label] for sample, found, _ in self.samples if sample == name}


def scrape(http_url: str) -> Scrape:
    with urllib.request.urlopen(f"{http_url}/metrics", timeout=10) as reply:
        return Scrape(reply.read().decode(), reply.headers["content-type"])


def eventually(http_url: str, check: Callable[[Scrape], bool], timeout: float = 10.0) -> Scrape:
    """Scrapes until `check` holds: a cancelled call ends on gRPC's own thread, a moment
    after the client has given up on it."""
    deadline = time.monotonic() + timeout
    while True:
        found = scrape(http_url)
        if check(found) or time.monotonic() > deadline:
            return found
        time.sleep(0.05)
