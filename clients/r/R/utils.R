# Small helpers shared by the wrappers.

`%||%` <- function(x, y) if (is.null(x)) y else x

# run_id -> runId: the proto3 JSON name of a field.
lower_camel <- function(name) gsub("_([a-z0-9])", "\\U\\1", name, perl = TRUE)

# A field of a message parsed from proto3 JSON. Printers emit lowerCamelCase names
# unless told to keep the proto names, and parsers accept both; so read either.
json_field <- function(message, name, default = NULL) {
  message[[name]] %||% message[[lower_camel(name)]] %||% default
}

# proto3 JSON doubles: numbers, or the strings "NaN", "Infinity" and "-Infinity".
json_doubles <- function(values) {
  out <- numeric(length(values))
  if (length(values) == 0) {
    return(out)
  }
  text <- vapply(values, is.character, logical(1))
  out[!text] <- as.numeric(unlist(values[!text], use.names = FALSE))
  words <- unlist(values[text], use.names = FALSE)
  special <- c("NaN" = NaN, "Infinity" = Inf, "-Infinity" = -Inf)
  # Other strings are decimal numbers, which proto3 JSON also allows.
  out[text] <- ifelse(
    words %in% names(special), special[words], suppressWarnings(as.numeric(words))
  )
  out
}

# proto3 JSON int64 values, which arrive as decimal strings. Numeric is exact up to
# 2^53, which covers epoch milliseconds and any realistic step.
json_int64s <- function(values) {
  as.numeric(unlist(values, use.names = FALSE) %||% character())
}

# Epoch milliseconds now.
now_ms <- function() round(as.numeric(Sys.time()) * 1000)

# RUN_STATUS_FINISHED -> FINISHED.
strip_enum_prefix <- function(value, prefix) {
  if (is.null(value)) {
    return(NA_character_)
  }
  sub(paste0("^", prefix), "", value)
}

# A key/value vector or list (c(a = 1), list(a = "x")) as proto key/value messages.
key_values <- function(x, what) {
  if (length(x) == 0) {
    return(list())
  }
  keys <- names(x)
  if (is.null(keys) || any(!nzchar(keys))) {
    abort_code("INVALID_ARGUMENT", what, " must be a named list or vector")
  }
  unname(Map(function(k, v) list(key = k, value = as_text(v)), keys, as.list(x)))
}

# A param or tag value as the server stores it: text. Numbers keep every digit that
# tells them apart (0.1 stays "0.1", 1/3 becomes "0.333333333333333").
as_text <- function(x) {
  if (length(x) != 1 || is.na(x)) {
    abort_code("INVALID_ARGUMENT", "a param or tag value must be one non-missing value")
  }
  as.character(x)
}
