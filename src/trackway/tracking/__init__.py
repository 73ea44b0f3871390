"""The tracking domain: entities, validation rules and the service that gRPC and REST share."""
