"""Model serving: `trackway models serve`, a REST scoring server in MLflow's protocol.

`app.ScoringApp` is the ASGI app (one loaded model behind /invocations, /ping, /health
and /version), `payload` reads MLflow's request formats and writes predictions, and
`server.serve` loads the model and runs the app on the REST gateway's uvicorn stack.
"""
