"""Raw HTTP requests for the attack tests: exact paths and headers, nothing normalised.

`requests` (through urllib3) removes dot segments and re-quotes paths, and sets its own
Host; an attack must reach the server byte for byte as an attacker would send it.
"""

from __future__ import annotations

import http.client
from dataclasses import dataclass
from urllib.parse import quote

import orjson

# Characters kept as they are in a "raw" path: an attacker sends `%2e%2e` or `;` or `\`
# straight, so the server decodes them itself; everything else is percent-encoded.
RAW_SAFE = "/%;\\:@!$&'()*+,=~"


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> object:
        return orjson.loads(self.body)


def url_path(path: str, *, raw: bool) -> str:
    """`path` as a URL path: every reserved byte encoded, or (raw) only what HTTP forbids."""
    return quote(path, safe=RAW_SAFE if raw else "/")


def send(
    port: int,
    method: str,
    target: str,
    *,
    host: str | None = None,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> Reply:
    """One request to 127.0.0.1:`port`; `host` is the Host header (default: the address
    itself, an empty string sends none)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
        host_header = f"127.0.0.1:{port}" if host is None else host
        if host_header:
            conn.putheader("Host", host_header)
        for name, value in (headers or {}).items():
            conn.putheader(name, value)
        if body is not None or method in ("POST", "PUT", "PATCH"):
            conn.putheader("Content-Length", str(len(body or b"")))
        conn.endheaders(body or None)
        response = conn.getresponse()
        data = response.read()
        found = {k.lower(): v for k, v in response.getheaders()}
        return Reply(response.status, found, data)
    finally:
        conn.close()


def send_json(
    port: int,
    method: str,
    target: str,
    value: object,
    *,
    host: str | None = None,
    headers: dict[str, str] | None = None,
) -> Reply:
    """A request with `value` as its JSON body, labelled application/json."""
    sent = {"Content-Type": "application/json", **(headers or {})}
    return send(port, method, target, host=host, body=orjson.dumps(value), headers=sent)
