# The connection settings that every call takes, and the errors that calls raise.

tw_client <- function(uri = Sys.getenv("TRACKWAY_TRACKING_URI"),
                      token = Sys.getenv("TRACKWAY_TRACKING_TOKEN"),
                      timeout = 60) {
  uri <- as.character(uri %||% "")
  if (length(uri) != 1 || !nzchar(uri)) {
    stop(
      "no tracking server: set TRACKWAY_TRACKING_URI to the server's HTTP address ",
      "(such as http://127.0.0.1:5000) or pass tw_client(uri = ...)",
      call. = FALSE
    )
  }
  if (!grepl("^https?://[^/]+", uri)) {
    # The Python SDK takes grpc:// URIs in the same variable; say why this one differs.
    stop(
      "tracking URI ", uri, " is not an http:// or https:// address: the R client ",
      "speaks the server's HTTP/JSON API, on its HTTP port (--http-port)",
      call. = FALSE
    )
  }
  if (!is.numeric(timeout) || length(timeout) != 1 || !(timeout > 0)) {
    stop("timeout must be a positive number of seconds", call. = FALSE)
  }
  structure(
    list(uri = sub("/+$", "", uri), token = as.character(token %||% ""), timeout = timeout),
    class = "trackway_client"
  )
}

print.trackway_client <- function(x, ...) {
  # Never print the token: clients end up in logs and bug reports.
  cat("<trackway_client>", x$uri, if (nzchar(x$token)) "(with a bearer token)", "\n")
  invisible(x)
}

check_client <- function(client) {
  if (!inherits(client, "trackway_client")) {
    stop("client must come from tw_client()", call. = FALSE)
  }
  client
}

# gRPC's canonical codes in number order (code 0 is OK); the HTTP/JSON API reports them
# by number in the google.rpc.Status body.
grpc_codes <- c(
  "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
  "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
  "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS",
  "UNAUTHENTICATED"
)

# The code an HTTP status stands for, when an answer carries no google.rpc.Status (a
# proxy's error page, say); the inverse of the usual gRPC to HTTP mapping.
http_to_code <- function(http_status) {
  code <- switch(as.character(http_status),
    "400" = "INVALID_ARGUMENT",
    "401" = "UNAUTHENTICATED",
    "403" = "PERMISSION_DENIED",
    "404" = "NOT_FOUND",
    "409" = "ABORTED",
    "412" = "FAILED_PRECONDITION",
    "413" = "RESOURCE_EXHAUSTED",
    "416" = "OUT_OF_RANGE",
    "429" = "RESOURCE_EXHAUSTED",
    "499" = "CANCELLED",
    "501" = "UNIMPLEMENTED",
    "503" = "UNAVAILABLE",
    "504" = "DEADLINE_EXCEEDED",
    if (http_status >= 500) "INTERNAL" else "UNKNOWN"
  )
  match(code, grpc_codes) - 1L
}

# A condition of classes trackway_<code> (trackway_not_found, ...), trackway_error, error.
trackway_condition <- function(code, message, details = list(), http_status = NA_integer_,
                               rpc = NA_character_) {
  code <- as.integer(code)
  status <- if (!is.na(code) && code >= 0 && code < length(grpc_codes)) {
    grpc_codes[[code + 1L]]
  } else {
    "UNKNOWN"
  }
  structure(
    class = c(paste0("trackway_", tolower(status)), "trackway_error", "error", "condition"),
    list(
      message = paste0(status, ": ", message),
      call = NULL,
      code = code,
      status = status,
      server_message = message,
      reason = error_reason(details),
      details = details,
      http_status = as.integer(http_status),
      rpc = rpc
    )
  )
}

# Raises a trackway_error for a failure found on this side, before any request is sent.
abort_code <- function(status, ...) {
  stop(trackway_condition(match(status, grpc_codes) - 1L, paste0(...)))
}

# The reason of the status's google.rpc.ErrorInfo detail (RESOURCE_DOES_NOT_EXIST, ...).
error_reason <- function(details) {
  for (detail in details) {
    if (is.list(detail) && grepl("google.rpc.ErrorInfo$", detail[["@type"]] %||% "")) {
      return(detail[["reason"]] %||% NA_character_)
    }
  }
  NA_character_
}
