# The run helpers against a live server: the active run, logging, ending.

test_that("a run starts active, logs, and ends FINISHED", {
  skip_without_server()
  experiment_id <- local_experiment()
  run <- tw_start_run(run_name = "basic", tags = list(team = "search"))
  expect_s3_class(run, "trackway_run")
  expect_equal(run$experiment_id, experiment_id)
  expect_equal(run$status, "RUNNING")
  expect_equal(run$run_name, "basic")
  expect_match(run$run_id, "^[0-9a-f]{32}$")

  expect_equal(tw_log_param("lr", 0.01), run$run_id)
  tw_log_metric("loss", 0.5, step = 1)
  tw_set_tag("stage", "tuning")
  ended <- tw_end_run()
  expect_equal(ended$status, "FINISHED")
  expect_false(is.na(ended$end_time))

  got <- tw_get_run(run$run_id)
  expect_equal(nrow(got), 1)
  expect_equal(got$status, "FINISHED")
  expect_equal(got$params.lr, "0.01")
  expect_equal(got$metrics.loss, 0.5)
  expect_equal(got$tags.stage, "tuning")
  expect_equal(got$tags.team, "search")
  expect_equal(got$tags.mlflow.source.type, "LOCAL")
  expect_error(tw_log_metric("loss", 1), class = "trackway_failed_precondition")
})

test_that("one active run at a time, unless nested", {
  skip_without_server()
  local_experiment()
  parent <- tw_start_run()
  expect_error(tw_start_run(), class = "trackway_failed_precondition")
  child <- tw_start_run(nested = TRUE)
  expect_equal(tw_get_run(child$run_id)$parent_run_id, parent$run_id)
  tw_log_param("where", "child") # goes to the child, the current run
  tw_end_run()
  tw_log_param("where", "parent")
  tw_end_run(status = "KILLED")
  expect_equal(tw_get_run(child$run_id)$params.where, "child")
  expect_equal(tw_get_run(parent$run_id)$status, "KILLED")
  expect_error(tw_end_run(), class = "trackway_failed_precondition")
  expect_error(
    tw_end_run(status = "DONE", run_id = parent$run_id),
    class = "trackway_invalid_argument"
  )
})

test_that("explicit run ids work without an active run, and resume makes RUNNING", {
  skip_without_server()
  local_experiment()
  run <- tw_start_run()
  tw_end_run()
  tw_log_param("k", "v", run_id = run$run_id)
  tw_set_tag("t", "1", run_id = run$run_id)
  tw_log_metric("m", 2, step = 7, run_id = run$run_id)
  resumed <- tw_start_run(run_id = run$run_id)
  expect_equal(resumed$status, "RUNNING")
  tw_end_run(status = "FAILED")
  got <- tw_get_run(run$run_id)
  expect_equal(got$status, "FAILED")
  expect_equal(got$params.k, "v")
  expect_equal(got$tags.t, "1")
  expect_equal(got$metrics.m, 2)
})

test_that("with() ends the run FINISHED, or FAILED on an error", {
  skip_without_server()
  local_experiment()
  run <- tw_start_run()
  value <- with(run, {
    tw_log_metric("x", 1)
    42
  })
  expect_equal(value, 42)
  expect_equal(tw_get_run(run$run_id)$status, "FINISHED")
  expect_length(the$runs, 0)

  failing <- tw_start_run()
  expect_error(with(failing, stop("boom")), "boom")
  expect_equal(tw_get_run(failing$run_id)$status, "FAILED")
  expect_length(the$runs, 0)
})

test_that("params are write-once; many params and tags go in batches", {
  skip_without_server()
  local_experiment()
  run <- tw_start_run()
  tw_log_param("lr", "0.1")
  tw_log_param("lr", "0.1") # the same value again is fine
  expect_error(tw_log_param("lr", "0.2"), class = "trackway_failed_precondition")
  keys <- sprintf("p%03d", 1:150)
  tw_log_param(keys, seq_along(keys))
  tw_set_tag(sprintf("t%03d", 1:120), "x")
  got <- tw_get_run(run$run_id)
  expect_equal(got[["params.p150"]], "150")
  expect_equal(sum(startsWith(names(got), "params.p")), 150)
  expect_equal(sum(startsWith(names(got), "tags.t")), 120)
})

test_that("vectors of metric points keep their values, steps and order", {
  skip_without_server()
  local_experiment()
  run <- tw_start_run()
  # 0.07259577629156411: R reads its 15-digit text back as itself, a correct parser not.
  values <- c(0.1 + 0.2, 1 / 3, NaN, Inf, -Inf, -0.5, 1e-300, 0.07259577629156411, runif(2492))
  tw_log_metric(
    "loss", values,
    step = seq_along(values) - 1, timestamp = 1700000000000 + seq_along(values)
  )
  history <- tw_get_metric_history(run$run_id, "loss")
  expect_equal(nrow(history), length(values))
  expect_identical(history$value, values)
  expect_equal(history$step, seq_along(values) - 1)
  expect_equal(history$timestamp, 1700000000000 + seq_along(values))
  expect_error(tw_log_metric("loss", "high"), class = "trackway_invalid_argument")
  expect_error(tw_log_metric("loss", 1, step = 0.5), class = "trackway_invalid_argument")
})
