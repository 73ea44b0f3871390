"""Observability: Prometheus metrics, request ids in logs, optional OpenTelemetry tracing.

`wiring.Observability` is what `create_server()` plugs in: the outermost gRPC
interceptor, the ASGI middleware around the HTTP gateway (which also serves
`/metrics`), and cheap hooks in the group-commit writer, the tracking store and the
artifact service. Importing this package imports nothing heavy: the CLI's log
formatter uses `logs` before any server exists.
"""
