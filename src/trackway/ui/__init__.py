"""The Web UI: static ES modules and CSS under `static/`, served at `/` by `assets`.

The browser code talks to the server only through the documented HTTP APIs (MLflow's
REST API 2.0 and its artifact proxy); nothing here reads a store or calls a service.
"""
