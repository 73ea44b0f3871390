"""Sidecar relay mode: `trackway server --forward-to grpc://central:50051`.

A relay runs next to a training job and serves the same gRPC API on localhost:

- Writes of metric points, params and tags (LogStream, LogBatch, LogColumns, LogMetric,
  LogParam, SetTag) and DeleteTag and LogInputs are checked like the central server checks them,
  written to a local spool (fsync'd), and acknowledged: the job never waits on the
  network (`writes`, `spool`, `servicer`).
- A forwarder thread sends the spool to central in order, on its own LogStream writer,
  and deletes entries only once central acknowledged them; central's sequence numbers
  make resends after an outage or a `kill -9` of the relay exactly-once (`forwarder`).
- Every other call is passed through to central as bytes, with its metadata and
  deadline (`proxy`); health and reflection are answered locally (`server`).

Reads through a relay see spooled writes once they are forwarded: a relay is
eventually consistent with central, by seconds while central is up.
"""
