# Runs as R users know them from MLflow: an active run that logging calls default to,
# started and ended explicitly or around a block with with().

# The session's active experiment and its stack of active runs (the last is current).
the <- new.env(parent = emptyenv())
the$experiment_id <- NULL
the$runs <- list()

run_statuses <- c("RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED")

# The client of the current run when there is one, else one from the environment.
resolve_client <- function(client) {
  if (!is.null(client)) {
    return(check_client(client))
  }
  n <- length(the$runs)
  if (n > 0) the$runs[[n]]$client else tw_client()
}

# `run_id`, else the active run's id.
resolve_run_id <- function(run_id) {
  if (!is.null(run_id)) {
    if (!is.character(run_id) || length(run_id) != 1 || !nzchar(run_id)) {
      abort_code("INVALID_ARGUMENT", "run_id must be one run id")
    }
    return(run_id)
  }
  n <- length(the$runs)
  if (n == 0) {
    abort_code(
      "FAILED_PRECONDITION", "no active run: start one with tw_start_run() or pass run_id"
    )
  }
  the$runs[[n]]$run_id
}

tw_set_experiment <- function(name = NULL, experiment_id = NULL, client = NULL) {
  client <- resolve_client(client)
  if (is.null(experiment_id)) {
    if (is.null(name)) abort_code("INVALID_ARGUMENT", "give an experiment name or id")
    experiment_id <- experiment_by_name(name, client, create = TRUE)
  } else {
    tw_tracking_get_experiment(list(experiment_id = experiment_id), client = client)
  }
  the$experiment_id <- experiment_id
  invisible(experiment_id)
}

# The id of the experiment called `name`, created when `create` and missing.
experiment_by_name <- function(name, client, create) {
  found <- tryCatch(
    tw_tracking_get_experiment_by_name(list(name = name), client = client),
    trackway_not_found = function(e) if (create) NULL else stop(e)
  )
  if (is.null(found)) {
    found <- tryCatch(
      tw_tracking_create_experiment(list(name = name), client = client),
      # Another process created it in the meantime.
      trackway_already_exists = function(e) {
        tw_tracking_get_experiment_by_name(list(name = name), client = client)
      }
    )
  }
  json_field(found$experiment, "experiment_id")
}

# Explicit id, else tw_set_experiment(), else TRACKWAY_EXPERIMENT_ID, else the
# experiment named by TRACKWAY_EXPERIMENT_NAME or "Default" (created when missing),
# as the Python SDK chooses.
active_experiment_id <- function(client) {
  if (!is.null(the$experiment_id)) {
    return(the$experiment_id)
  }
  from_env <- Sys.getenv("TRACKWAY_EXPERIMENT_ID")
  if (nzchar(from_env)) {
    return(from_env)
  }
  name <- Sys.getenv("TRACKWAY_EXPERIMENT_NAME", "Default")
  the$experiment_id <- experiment_by_name(name, client, create = TRUE)
  the$experiment_id
}

tw_start_run <- function(experiment_id = NULL, run_name = NULL, tags = NULL, run_id = NULL,
                         nested = FALSE, start_time = NULL, client = NULL) {
  client <- resolve_client(client)
  n <- length(the$runs)
  if (n > 0 && !nested) {
    abort_code(
      "FAILED_PRECONDITION", "run ", the$runs[[n]]$run_id, " is already active; end it ",
      "with tw_end_run(), or start a nested run with tw_start_run(nested = TRUE)"
    )
  }
  if (!is.null(run_id)) {
    info <- resume_run(run_id, client)
  } else {
    user <- Sys.info()[["user"]]
    system_tags <- list("mlflow.source.type" = "LOCAL", "mlflow.user" = user)
    all_tags <- merge_lists(system_tags, as.list(tags))
    parent <- if (nested && n > 0) the$runs[[n]]$run_id else NULL
    if (!is.null(parent)) all_tags[["mlflow.parentRunId"]] <- parent
    created <- tw_tracking_create_run(
      list(
        experiment_id = experiment_id %||% active_experiment_id(client),
        run_name = run_name,
        start_time = start_time %||% now_ms(),
        tags = key_values(all_tags, "tags"),
        user_id = user,
        parent_run_id = parent
      ),
      client = client
    )
    info <- json_field(created$run, "info")
  }
  run <- run_object(info, client)
  the$runs[[length(the$runs) + 1]] <- list(run_id = run$run_id, client = client)
  run
}

merge_lists <- function(base, extra) {
  for (key in names(extra)) base[[key]] <- extra[[key]]
  base
}

resume_run <- function(run_id, client) {
  info <- json_field(tw_tracking_get_run(list(run_id = run_id), client = client)$run, "info")
  if (!identical(json_field(info, "lifecycle_stage"), "LIFECYCLE_STAGE_ACTIVE")) {
    abort_code("FAILED_PRECONDITION", "run ", run_id, " is deleted; restore it before resuming it")
  }
  if (!identical(json_field(info, "status"), "RUN_STATUS_RUNNING")) {
    updated <- tw_tracking_update_run(
      list(run_id = run_id, status = "RUN_STATUS_RUNNING", update_mask = "status"),
      client = client
    )
    info <- json_field(updated, "run_info")
  }
  info
}

# A RunInfo from proto3 JSON as the run object that tw_start_run() returns.
run_object <- function(info, client) {
  end <- json_int64s(json_field(info, "end_time", "0"))
  structure(
    list(
      run_id = json_field(info, "run_id"),
      experiment_id = json_field(info, "experiment_id"),
      run_name = json_field(info, "run_name", ""),
      status = strip_enum_prefix(json_field(info, "status"), "RUN_STATUS_"),
      start_time = json_int64s(json_field(info, "start_time", "0")),
      end_time = if (end == 0) NA_real_ else end,
      artifact_uri = json_field(info, "artifact_uri", ""),
      client = client
    ),
    class = "trackway_run"
  )
}

print.trackway_run <- function(x, ...) {
  cat(
    "<trackway_run> ", x$run_id, " (", x$run_name, ") in experiment ", x$experiment_id,
    ": ", x$status, "\n",
    sep = ""
  )
  invisible(x)
}

with.trackway_run <- function(data, expr, ...) {
  finished <- FALSE
  on.exit(
    if (any(vapply(the$runs, function(r) identical(r$run_id, data$run_id), logical(1)))) {
      tw_end_run(
        status = if (finished) "FINISHED" else "FAILED", run_id = data$run_id,
        client = data$client
      )
    },
    add = TRUE
  )
  result <- eval(substitute(expr), parent.frame())
  finished <- TRUE
  invisible(result)
}

tw_end_run <- function(status = "FINISHED", end_time = NULL, run_id = NULL, client = NULL) {
  client <- resolve_client(client)
  run_id <- resolve_run_id(run_id)
  status <- toupper(sub("^RUN_STATUS_", "", status))
  if (length(status) != 1 || !status %in% run_statuses) {
    abort_code(
      "INVALID_ARGUMENT", "status must be one of ", paste(run_statuses, collapse = ", ")
    )
  }
  updated <- tw_tracking_update_run(
    list(
      run_id = run_id,
      status = paste0("RUN_STATUS_", status),
      end_time = end_time %||% now_ms(),
      update_mask = c("status", "end_time")
    ),
    client = client
  )
  keep <- !vapply(the$runs, function(r) identical(r$run_id, run_id), logical(1))
  the$runs <- the$runs[keep]
  invisible(run_object(json_field(updated, "run_info"), client))
}

# Sends logs of one run in LogBatch requests of at most `per` entries of `field`.
log_in_batches <- function(run_id, field, entries, per, client) {
  for (first in seq(1, length(entries), by = per)) {
    chunk <- entries[first:min(first + per - 1, length(entries))]
    request <- list(run_id = run_id)
    request[[field]] <- chunk
    tw_tracking_log_batch(request, client = client)
  }
}

tw_log_metric <- function(key, value, step = 0, timestamp = NULL, run_id = NULL,
                          client = NULL) {
  client <- resolve_client(client)
  run_id <- resolve_run_id(run_id)
  if (!is.numeric(value) || length(value) == 0) {
    abort_code("INVALID_ARGUMENT", "value must be numeric")
  }
  n <- length(value)
  timestamp <- timestamp %||% now_ms()
  if (!all(lengths(list(key, step, timestamp)) %in% c(1, n))) {
    abort_code("INVALID_ARGUMENT", "key, step and timestamp must have length 1 or length(value)")
  }
  if (n == 1) {
    tw_tracking_log_metric(
      list(
        run_id = run_id,
        metric = list(key = key, value = value, timestamp = timestamp, step = step)
      ),
      client = client
    )
  } else {
    points <- data.frame(
      key = key, value = value, timestamp = timestamp, step = step, stringsAsFactors = FALSE
    )
    # LogBatch takes at most 1,000 metrics per request.
    log_in_batches(run_id, "metrics", data_frame_rows(points), 1000, client)
  }
  invisible(run_id)
}

tw_log_param <- function(key, value, run_id = NULL, client = NULL) {
  log_key_values(key, value, run_id, client, single = function(run_id, kv, client) {
    tw_tracking_log_param(list(run_id = run_id, param = kv), client = client)
  }, field = "params")
}

tw_set_tag <- function(key, value, run_id = NULL, client = NULL) {
  log_key_values(key, value, run_id, client, single = function(run_id, kv, client) {
    tw_tracking_set_tag(list(run_id = run_id, tag = kv), client = client)
  }, field = "tags")
}

log_key_values <- function(key, value, run_id, client, single, field) {
  client <- resolve_client(client)
  run_id <- resolve_run_id(run_id)
  if (length(key) == 0 || !length(value) %in% c(1, length(key))) {
    abort_code("INVALID_ARGUMENT", "value must have length 1 or the length of key")
  }
  value <- rep_len(as.list(value), length(key))
  entries <- key_values(with_names(as.list(value), key), field)
  if (length(entries) == 1) {
    single(run_id, entries[[1]], client)
  } else {
    # LogBatch takes at most 100 params and 100 tags per request.
    log_in_batches(run_id, field, entries, 100, client)
  }
  invisible(run_id)
}

with_names <- function(x, nm) {
  names(x) <- nm
  x
}
