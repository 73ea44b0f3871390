"""Authentication and permissions: who calls, and what they may do.

- `entities`, `errors`, `tokens`: users, roles, tokens, permission levels (READ < EDIT <
  MANAGE), the UNAUTHENTICATED and PERMISSION_DENIED errors, token secrets and hashes;
- `rules`: THE rule table, one rule per gRPC method, which every door enforces;
  `http_rules` maps the HTTP routes (MLflow's, the artifact proxy, the UI, `/v1/`,
  plain paths) onto those rules;
- `interceptor` (gRPC) and `http_gate` (HTTP): the one enforcement point of each door;
- `authenticator`, `access`, `resources`: credentials to users, and users and requests
  to permission levels on experiments and registered models;
- `context`, `visibility`: the caller of the current call, searches that return only
  what it may READ, and MANAGE for whoever creates an experiment or a model;
- `admin`, `admin_servicer`, `admin_convert`: the AdminService (users, tokens, grants);
- `settings`, `tls`, `bootstrap`, `wiring`: the server's flags, its TLS, its first admin,
  and what `create_server()` plugs in.
"""
