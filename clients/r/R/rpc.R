# The HTTP/JSON call behind every generated tw_<package>_<rpc>() function.
#
# It writes the request as proto3 JSON (with the field kinds that tools/gen_r.py put in
# rpc_messages), fills the path template of the RPC's google.api.http rule, sends the
# other fields as the body or the query string as the rule says, and turns a
# google.rpc.Status answer into a trackway_error condition.

rpc_call <- function(client, request, rpc, message, bindings) {
  check_client(client)
  fields <- encode_message(request %||% list(), message, "request")
  binding <- choose_binding(bindings, fields, rpc)
  bound <- bind_path(binding$path, fields)
  rest <- bound$rest
  body <- NULL
  if (identical(binding$body, "*")) {
    body <- rest
    rest <- list()
  } else if (nzchar(binding$body)) {
    body <- rest[[binding$body]] %||% empty_object()
    rest[[binding$body]] <- NULL
  }
  req <- new_request(client, paste0(bound$path, query_string(rest)), binding$verb)
  if (!is.null(body)) {
    req <- httr2::req_body_raw(req, to_json(body), type = "application/json")
  }
  resp <- perform(req, client, rpc)
  parse_answer(resp)
}

# A request to `path` below the client's address, with its token and timeout. Failures
# come back as responses, so that perform() can read their google.rpc.Status.
new_request <- function(client, path, verb, timeout = TRUE) {
  req <- httr2::request(paste0(client$uri, path))
  req <- httr2::req_method(req, verb)
  # Send the path as given: libcurl would otherwise squash `..` segments of a field's
  # value and address another resource instead of letting the server refuse the value.
  req <- httr2::req_options(req, path_as_is = TRUE)
  req <- httr2::req_user_agent(req, "trackway-r")
  # No "Expect: 100-continue" round trip before bodies.
  req <- httr2::req_headers(req, Accept = "application/json", Expect = "")
  if (timeout) {
    req <- httr2::req_timeout(req, client$timeout)
  } else {
    # Transfers of any size: give up only when nothing moves for `timeout` seconds.
    req <- httr2::req_options(req, low_speed_limit = 1, low_speed_time = client$timeout)
  }
  if (nzchar(client$token)) {
    req <- httr2::req_auth_bearer_token(req, client$token)
  }
  httr2::req_error(req, is_error = function(resp) FALSE)
}

# Sends `req` (its answer's body into the file `path` when given); raises trackway_error.
perform <- function(req, client, rpc, path = NULL) {
  resp <- tryCatch(
    httr2::req_perform(req, path = path),
    error = function(e) {
      text <- conditionMessage(e)
      code <- if (grepl("timeout|timed out", text, ignore.case = TRUE)) 4L else 14L
      stop(trackway_condition(
        code, paste0("cannot reach the tracking server at ", client$uri, ": ", text),
        rpc = rpc
      ))
    }
  )
  status <- httr2::resp_status(resp)
  if (status >= 400) {
    stop(status_condition(resp, rpc))
  }
  resp
}

body_text <- function(resp) {
  # Forced first: a lazy argument evaluated inside tryCatch() would have its errors
  # swallowed along with the empty-body one.
  force(resp)
  raw <- tryCatch(httr2::resp_body_raw(resp), error = function(e) raw())
  if (length(raw) == 0) "" else rawToChar(raw)
}

# The trackway_error for a failed answer: from its google.rpc.Status JSON when it has
# one, else from the HTTP status.
status_condition <- function(resp, rpc) {
  http_status <- httr2::resp_status(resp)
  text <- body_text(resp)
  status <- tryCatch(jsonlite::fromJSON(text, simplifyVector = FALSE), error = function(e) NULL)
  if (is.list(status) && is.numeric(status[["code"]])) {
    return(trackway_condition(
      status[["code"]], status[["message"]] %||% "", status[["details"]] %||% list(),
      http_status = http_status, rpc = rpc
    ))
  }
  excerpt <- substr(gsub("\\s+", " ", text), 1, 200)
  trackway_condition(
    http_to_code(http_status), paste0("HTTP ", http_status, " ", excerpt),
    http_status = http_status, rpc = rpc
  )
}

parse_answer <- function(resp) {
  text <- body_text(resp)
  if (!nzchar(text)) {
    return(empty_object())
  }
  Encoding(text) <- "UTF-8"
  jsonlite::fromJSON(text, simplifyVector = FALSE)
}

empty_object <- function() structure(list(), names = character())

to_json <- function(x) {
  as.character(jsonlite::toJSON(
    x,
    auto_unbox = TRUE, json_verbatim = TRUE, null = "null", na = "null", digits = NA
  ))
}

# --- proto3 JSON from R values ---------------------------------------------------------

# A named list (or a one-row data.frame) as a message of type `message`, ready for
# to_json(): repeated fields become JSON arrays whatever their length, int64 becomes a
# string, doubles keep every bit. Fields the schema does not know pass through as they
# are, for the server to judge.
encode_message <- function(value, message, where) {
  if (is.data.frame(value)) {
    if (nrow(value) != 1) {
      abort_code("INVALID_ARGUMENT", where, " must be one message, not ", nrow(value), " rows")
    }
    value <- data_frame_rows(value)[[1]]
  }
  if (!is.list(value) || (length(value) > 0 && !is_named(value))) {
    abort_code("INVALID_ARGUMENT", where, " must be a named list of the fields of ", message)
  }
  kinds <- rpc_messages[[message]]
  out <- empty_object()
  for (name in names(value)) {
    field <- value[[name]]
    if (is.null(field)) next
    # Accept the proto3 JSON (lowerCamelCase) name of a field too.
    known <- names(kinds)[c(match(name, names(kinds)), match(name, lower_camel(names(kinds))))]
    known <- known[!is.na(known)]
    out[[name]] <- if (length(known)) {
      encode_field(field, kinds[[known[[1]]]], paste0(where, ".", name))
    } else {
      field
    }
  }
  out
}

is_named <- function(x) !is.null(names(x)) && all(nzchar(names(x)))

data_frame_rows <- function(df) {
  lapply(seq_len(nrow(df)), function(i) lapply(df, function(column) column[[i]]))
}

is_message_kind <- function(type) grepl(".", type, fixed = TRUE)

encode_field <- function(value, kind, where) {
  if (startsWith(kind, "map ")) {
    return(encode_map(value, substring(kind, 5), where))
  }
  type <- sub("^repeated ", "", kind)
  if (type == "google.protobuf.FieldMask") {
    # proto3 JSON writes a FieldMask as one string of lowerCamelCase paths.
    return(paste(lower_camel(unlist(value, use.names = FALSE)), collapse = ","))
  }
  if (startsWith(kind, "repeated ")) {
    if (is_message_kind(type)) {
      elements <- if (is.data.frame(value)) {
        data_frame_rows(value)
      } else if (is.list(value) && is_named(value)) {
        list(value) # one message given for a repeated field
      } else {
        value
      }
      if (!is.list(elements)) {
        abort_code("INVALID_ARGUMENT", where, " must be a list of named lists or a data.frame")
      }
      return(lapply(seq_along(elements), function(i) {
        encode_message(elements[[i]], type, sprintf("%s[%d]", where, i))
      }))
    }
    if (is.list(value) && type != "bytes") value <- unlist(value, use.names = FALSE)
    return(encode_scalars(value, type, where))
  }
  if (is_message_kind(type)) {
    return(encode_message(value, type, where))
  }
  if (length(value) != 1 && !(type == "bytes" && is.raw(value))) {
    abort_code("INVALID_ARGUMENT", where, " takes one value, not ", length(value))
  }
  encode_scalars(value, type, where)[[1]]
}

encode_map <- function(value, kind, where) {
  if (length(value) > 0 && !is_named(value)) {
    abort_code("INVALID_ARGUMENT", where, " is a map: give a named list or vector")
  }
  out <- empty_object()
  for (key in names(value)) {
    out[[key]] <- encode_field(value[[key]], kind, paste0(where, "$", key))
  }
  out
}

int64_types <- c("int64", "uint64", "sint64", "fixed64", "sfixed64")
int32_types <- c("int32", "uint32", "sint32", "fixed32", "sfixed32")

# A vector of values of one scalar type, as a list of JSON-ready values.
encode_scalars <- function(values, type, where) {
  if (type == "bytes") {
    values <- if (is.raw(values)) list(values) else as.list(values)
    return(lapply(values, function(v) if (is.raw(v)) jsonlite::base64_enc(v) else v))
  }
  if (is.factor(values)) values <- as.character(values)
  missing <- if (is.double(values)) is.na(values) & !is.nan(values) else is.na(values)
  if (any(missing)) {
    abort_code("INVALID_ARGUMENT", where, " must not be NA")
  }
  if (type %in% c(int64_types, int32_types)) {
    if (is.numeric(values)) {
      if (any(!is.finite(values) | values != trunc(values))) {
        abort_code("INVALID_ARGUMENT", where, " must be whole numbers")
      }
      text <- formatC(values, format = "f", digits = 0)
      # int64 travels as a string in proto3 JSON: a JSON number loses digits past 2^53.
      return(if (type %in% int64_types) as.list(text) else lapply(text, json_verbatim))
    }
    if (!is.character(values) || !all(grepl("^-?[0-9]+$", values))) {
      abort_code("INVALID_ARGUMENT", where, " must be whole numbers")
    }
    return(as.list(values))
  }
  if (type %in% c("double", "float")) {
    if (is.numeric(values)) {
      return(lapply(json_number_text(values), json_verbatim))
    }
    return(as.list(values))
  }
  if (type == "bool") {
    return(as.list(as.logical(values)))
  }
  if (type == "string") {
    return(as.list(as.character(values)))
  }
  as.list(values) # enums, by name or number
}

json_verbatim <- function(text) structure(text, class = "json")

# Doubles as JSON: 17 significant digits, which every correct parser reads back as the
# same number, and "NaN", "Infinity", "-Infinity" as proto3 JSON spells them. (Fewer
# digits when they read back the same in R is not safe: R's own parser is not correctly
# rounded, so it can take a 15-digit text for a number that the server reads otherwise.)
json_number_text <- function(x) {
  x <- as.numeric(x)
  text <- character(length(x))
  finite <- is.finite(x)
  text[finite] <- sprintf("%.17g", x[finite])
  text[is.nan(x)] <- "\"NaN\""
  text[!is.nan(x) & x == Inf] <- "\"Infinity\""
  text[!is.nan(x) & x == -Inf] <- "\"-Infinity\""
  text
}

# --- the HTTP rule ----------------------------------------------------------------------

template_variables <- function(template) {
  vars <- regmatches(template, gregexpr("\\{[^}]+\\}", template))[[1]]
  names(vars) <- sub("=.*$", "", substr(vars, 2, nchar(vars) - 1))
  vars
}

field_at <- function(fields, dotted) {
  for (part in strsplit(dotted, ".", fixed = TRUE)[[1]]) {
    if (!is.list(fields)) {
      return(NULL)
    }
    fields <- fields[[part]]
  }
  fields
}

drop_field_at <- function(fields, parts) {
  if (length(parts) == 1) {
    fields[[parts]] <- NULL
    return(fields)
  }
  inner <- drop_field_at(fields[[parts[[1]]]], parts[-1])
  fields[[parts[[1]]]] <- if (length(inner)) inner else NULL
  fields
}

is_set <- function(value) !is.null(value) && length(value) == 1 && nzchar(scalar_text(value))

# The first binding whose path fields the request all sets; ArtifactService rules have
# one per scope owner (run or experiment).
choose_binding <- function(bindings, fields, rpc) {
  for (binding in bindings) {
    vars <- names(template_variables(binding$path))
    if (all(vapply(vars, function(v) is_set(field_at(fields, v)), logical(1)))) {
      return(binding)
    }
  }
  needs <- vapply(bindings, function(b) {
    paste(names(template_variables(b$path)), collapse = " and ")
  }, character(1))
  abort_code(
    "INVALID_ARGUMENT", rpc, " needs the request field ", paste(unique(needs), collapse = ", or "),
    " (it goes in the URL path)"
  )
}

bind_path <- function(template, fields) {
  path <- template
  vars <- template_variables(template)
  for (name in names(vars)) {
    text <- scalar_text(field_at(fields, name))
    fields <- drop_field_at(fields, strsplit(name, ".", fixed = TRUE)[[1]])
    # `{name}` matches one segment, so a `/` in the value is escaped; `{name=**}` (and
    # any other pattern) spans segments, so `/` stays.
    multi <- grepl("=", vars[[name]], fixed = TRUE) && !grepl("=\\*\\}$", vars[[name]])
    path <- sub(vars[[name]], percent_encode(text, keep_slash = multi), path, fixed = TRUE)
  }
  list(path = path, rest = fields)
}

unreserved <- charToRaw("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")

percent_encode <- function(text, keep_slash = FALSE) {
  bytes <- charToRaw(enc2utf8(text))
  if (length(bytes) == 0) {
    return("")
  }
  keep <- bytes %in% c(unreserved, if (keep_slash) charToRaw("/"))
  chars <- character(length(bytes))
  chars[keep] <- rawToChar(bytes[keep], multiple = TRUE)
  chars[!keep] <- sprintf("%%%02X", as.integer(bytes[!keep]))
  paste(chars, collapse = "")
}

# One encoded scalar as text for a URL: no JSON quotes, booleans in lower case.
scalar_text <- function(value) {
  if (is.logical(value)) {
    return(if (isTRUE(value)) "true" else "false")
  }
  text <- as.character(value)
  if (inherits(value, "json")) text <- gsub("^\"|\"$", "", text)
  text
}

# The fields left after the path as `?a=1&b.c=x&r=1&r=2`: nested messages by dotted
# name, repeated fields as repeated keys, as the HTTP rule's query mapping says.
query_string <- function(fields) {
  pairs <- query_pairs(fields, "")
  if (length(pairs) == 0) {
    return("")
  }
  keys <- vapply(pairs, `[[`, "", 1)
  values <- vapply(pairs, `[[`, "", 2)
  paste0("?", paste(
    vapply(keys, percent_encode, ""), vapply(values, percent_encode, ""),
    sep = "=", collapse = "&"
  ))
}

query_pairs <- function(fields, prefix) {
  pairs <- list()
  for (name in names(fields)) {
    value <- fields[[name]]
    key <- paste0(prefix, name)
    if (is.list(value) && !is.null(names(value))) {
      pairs <- c(pairs, query_pairs(value, paste0(key, ".")))
      next
    }
    for (item in if (is.list(value)) value else list(value)) {
      if (is.list(item)) {
        abort_code("INVALID_ARGUMENT", key, " holds messages, which a query string cannot carry")
      }
      pairs <- c(pairs, list(c(key, scalar_text(item))))
    }
  }
  pairs
}
