"""MLflow's REST API 2.0 over Trackway's services, so MLflow clients work unchanged.

`app.create_app` builds the ASGI app; `server.HttpServer` runs it with uvicorn beside
the gRPC server. Everything here is translation: every rule lives in the services.
"""
