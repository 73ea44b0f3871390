# Reads that return data.frames: runs (one row each) and metric histories (one row per
# point). Both follow page tokens to the end.

view_types <- c("ACTIVE_ONLY", "DELETED_ONLY", "ALL")

tw_search_runs <- function(filter = "", experiment_ids = NULL, order_by = NULL,
                           view_type = c("ACTIVE_ONLY", "DELETED_ONLY", "ALL"),
                           max_results = NULL, page_size = 1000, client = NULL) {
  client <- resolve_client(client)
  view_type <- match.arg(view_type)
  # A page token pins its query, so every page repeats the same arguments.
  request <- list(
    experiment_ids = as.character(experiment_ids %||% character()),
    filter = filter,
    order_by = as.character(order_by %||% character()),
    page_size = min(max_results %||% page_size, page_size),
    view_type = paste0("VIEW_TYPE_", view_type)
  )
  runs <- list()
  repeat {
    page <- tw_tracking_search_runs(request, client = client)
    runs <- c(runs, page$runs)
    token <- json_field(page, "next_page_token", "")
    if (!nzchar(token) || (!is.null(max_results) && length(runs) >= max_results)) break
    request$page_token <- token
  }
  if (!is.null(max_results)) runs <- take_first(runs, max_results)
  runs_frame(runs)
}

take_first <- function(x, n) x[seq_len(min(n, length(x)))]

tw_get_run <- function(run_id = NULL, client = NULL) {
  client <- resolve_client(client)
  run_id <- resolve_run_id(run_id)
  runs_frame(list(tw_tracking_get_run(list(run_id = run_id), client = client)$run))
}

# Runs from proto3 JSON as a data.frame: the RunInfo columns, then one column per
# param, metric (its latest value) and tag key seen in any run, NA where a run has none.
runs_frame <- function(runs) {
  infos <- lapply(runs, function(run) json_field(run, "info", list()))
  text <- function(name, default = "") {
    vapply(infos, function(i) as.character(json_field(i, name, default)), character(1))
  }
  times <- function(name) {
    value <- json_int64s(lapply(infos, function(i) json_field(i, name, "0")))
    ifelse(value == 0, NA_real_, value)
  }
  frame <- data.frame(
    run_id = text("run_id"),
    experiment_id = text("experiment_id"),
    run_name = text("run_name"),
    user_id = text("user_id"),
    status = strip_enum_prefix(text("status", "RUN_STATUS_UNSPECIFIED"), "RUN_STATUS_"),
    start_time = times("start_time"),
    end_time = times("end_time"),
    artifact_uri = text("artifact_uri"),
    lifecycle_stage = tolower(
      strip_enum_prefix(text("lifecycle_stage", "UNSPECIFIED"), "LIFECYCLE_STAGE_")
    ),
    parent_run_id = text("parent_run_id"),
    stringsAsFactors = FALSE
  )
  datas <- lapply(runs, function(run) json_field(run, "data", list()))
  for (kind in c("params", "metrics", "tags")) {
    entries <- lapply(datas, function(d) json_field(d, kind, list()))
    keys <- sort(unique(unlist(lapply(entries, function(e) {
      vapply(e, function(kv) kv$key, character(1))
    }))))
    for (key in keys) {
      column <- lapply(entries, function(e) {
        for (kv in e) {
          # proto3 JSON leaves out default values: 0 for a metric, "" for a param or tag.
          if (identical(kv$key, key)) return(kv$value %||% (if (kind == "metrics") 0 else ""))
        }
        NULL
      })
      missing <- vapply(column, is.null, logical(1))
      column[missing] <- NA
      frame[[paste0(kind, ".", key)]] <- if (kind == "metrics") {
        out <- rep(NA_real_, length(column))
        out[!missing] <- json_doubles(column[!missing])
        out
      } else {
        as.character(unlist(column))
      }
    }
  }
  frame
}

tw_get_metric_history <- function(run_id = NULL, metric_key, worker = NULL, max_points = NULL,
                                  page_size = NULL, client = NULL) {
  client <- resolve_client(client)
  run_id <- resolve_run_id(run_id)
  request <- list(
    run_id = run_id, metric_key = metric_key, worker = worker, max_points = max_points,
    page_size = page_size
  )
  pages <- list()
  repeat {
    page <- tw_tracking_get_metric_history(request, client = client)
    points <- json_field(page, "points", list())
    pages[[length(pages) + 1]] <- points_frame(run_id, metric_key, points)
    token <- json_field(page, "next_page_token", "")
    if (!nzchar(token)) break
    request$page_token <- token
  }
  frame <- do.call(rbind, pages)
  rownames(frame) <- NULL
  frame
}

# One page of MetricColumns as rows. proto3 JSON leaves out empty repeated fields, so a
# missing column means no points (or, for workers, no labels).
points_frame <- function(run_id, metric_key, points) {
  steps <- json_int64s(json_field(points, "steps", list()))
  n <- length(steps)
  workers <- unlist(json_field(points, "workers", list()), use.names = FALSE)
  data.frame(
    run_id = rep(run_id, n),
    key = rep(metric_key, n),
    step = steps,
    timestamp = json_int64s(json_field(points, "timestamps", list())),
    value = json_doubles(json_field(points, "values", list())),
    worker = if (length(workers) == n) as.character(workers) else rep("", n),
    stringsAsFactors = FALSE
  )
}
