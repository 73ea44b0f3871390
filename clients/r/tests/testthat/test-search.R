# Search and history reads as data.frames, paging to the end.

test_that("tw_search_runs returns one row per run with params, metrics and tags", {
  skip_without_server()
  experiment_id <- local_experiment()
  ids <- character()
  for (i in 1:5) {
    run <- tw_start_run(run_name = paste0("r", i))
    tw_log_param("lr", i / 10)
    tw_log_metric("loss", 1 / i)
    if (i %% 2 == 0) tw_set_tag("even", "yes")
    tw_end_run()
    ids <- c(ids, run$run_id)
  }
  runs <- tw_search_runs(experiment_ids = experiment_id, page_size = 2)
  expect_s3_class(runs, "data.frame")
  expect_setequal(runs$run_id, ids)
  expect_true(all(c(
    "run_id", "experiment_id", "run_name", "status", "start_time", "end_time",
    "params.lr", "metrics.loss", "tags.even"
  ) %in% names(runs)))
  expect_type(runs$start_time, "double")
  expect_true(all(runs$status == "FINISHED"))
  expect_equal(sort(runs$metrics.loss), sort(1 / (1:5)))
  expect_equal(sum(runs$tags.even == "yes", na.rm = TRUE), 2)
  expect_equal(sum(is.na(runs$tags.even)), 3)

  low <- tw_search_runs(
    "metrics.loss < 0.3 AND params.lr != '0.5'",
    experiment_ids = experiment_id, order_by = "metrics.loss DESC"
  )
  expect_equal(low$run_name, "r4")
  capped <- tw_search_runs(experiment_ids = experiment_id, max_results = 3, page_size = 2)
  expect_equal(nrow(capped), 3)
  empty <- tw_search_runs("params.lr = 'none'", experiment_ids = experiment_id)
  expect_equal(nrow(empty), 0)
  expect_true("run_id" %in% names(empty))
})

test_that("a bad filter raises trackway_invalid_argument naming the token", {
  skip_without_server()
  err <- tryCatch(tw_search_runs("metrics.loss <<< 1"), trackway_error = function(e) e)
  expect_s3_class(err, "trackway_invalid_argument")
  expect_equal(err$code, 3L)
  expect_equal(err$http_status, 400L)
  expect_match(conditionMessage(err), "^INVALID_ARGUMENT: ")
})

test_that("tw_get_metric_history follows page tokens to the end", {
  skip_without_server()
  local_experiment()
  run <- tw_start_run()
  tw_log_metric("acc", seq(0, 1, length.out = 250), step = 0:249)
  history <- tw_get_metric_history(run$run_id, "acc", page_size = 100)
  expect_equal(nrow(history), 250)
  expect_equal(history$step, 0:249)
  expect_equal(names(history), c("run_id", "key", "step", "timestamp", "value", "worker"))
  expect_true(all(history$run_id == run$run_id & history$key == "acc" & history$worker == ""))

  coarse <- tw_get_metric_history(run$run_id, "acc", max_points = 20)
  expect_lte(nrow(coarse), 20)
  expect_equal(coarse$step[c(1, nrow(coarse))], c(0, 249))

  none <- tw_get_metric_history(run$run_id, "never-logged")
  expect_equal(nrow(none), 0)
  expect_error(
    tw_get_metric_history("0123456789abcdef0123456789abcdef", "acc"),
    class = "trackway_not_found"
  )
})

test_that("metric keys with slashes and spaces reach the server intact", {
  skip_without_server()
  local_experiment()
  run <- tw_start_run()
  tw_log_metric("train/loss per batch", c(3, 2, 1), step = 1:3)
  history <- tw_get_metric_history(run$run_id, "train/loss per batch")
  expect_equal(history$value, c(3, 2, 1))
})
