#!/usr/bin/env Rscript
# Reads a run's params and one metric's history with the trackway package and writes
# them as one CSV, for cross-language checks.
#
# Usage: Rscript read_run.R <run_id> <out.csv> [metric_key]   (metric_key: "loss")
# Needs TRACKWAY_TRACKING_URI (the server's HTTP address) and the package installed
# where R looks (R_LIBS).
#
# The CSV has the columns kind, key, step, timestamp, value: one row per param
# (kind "param", its value as text, step and timestamp empty), then one row per metric
# point (kind "metric") in step order. Numbers are written with 17 significant digits,
# so that every double reads back as the same double; NaN and infinities are written
# as NaN, Inf and -Inf.

args <- commandArgs(trailingOnly = TRUE)
if (length(args) < 2 || length(args) > 3) {
  stop("usage: Rscript read_run.R <run_id> <out.csv> [metric_key]", call. = FALSE)
}
run_id <- args[[1]]
out <- args[[2]]
metric_key <- if (length(args) == 3) args[[3]] else "loss"

suppressPackageStartupMessages(library(trackway))

run <- tw_get_run(run_id)
param_columns <- grep("^params\\.", names(run), value = TRUE)
history <- tw_get_metric_history(run_id, metric_key)

exact <- function(x) {
  text <- sprintf("%.17g", x)
  text[is.nan(x)] <- "NaN"
  text[!is.nan(x) & x == Inf] <- "Inf"
  text[!is.nan(x) & x == -Inf] <- "-Inf"
  text
}
whole <- function(x) sprintf("%.0f", x)

rows <- rbind(
  data.frame(
    kind = rep("param", length(param_columns)),
    key = sub("^params\\.", "", param_columns),
    step = rep("", length(param_columns)),
    timestamp = rep("", length(param_columns)),
    value = vapply(param_columns, function(column) run[[column]][[1]], character(1)),
    stringsAsFactors = FALSE
  ),
  data.frame(
    kind = rep("metric", nrow(history)),
    key = history$key,
    step = whole(history$step),
    timestamp = whole(history$timestamp),
    value = exact(history$value),
    stringsAsFactors = FALSE
  )
)
utils::write.csv(rows, out, row.names = FALSE)
cat("wrote", nrow(rows), "rows to", out, "\n")
