"""The model registry: registered models, their versions, stages, aliases and URIs.

`service.RegistryService` holds the rules and every door (gRPC now, REST later) calls
it; `uris` parses and resolves `models:/` and `runs:/` URIs; the SQL lives in
`trackway.store.registry_store` and `registry_ops`.
"""
