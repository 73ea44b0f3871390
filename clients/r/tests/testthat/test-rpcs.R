# Generated per-RPC functions of each service, and how failures surface.

test_that("tracking RPCs: experiments by id and name, a field mask, tags", {
  skip_without_server()
  name <- unique_name("r-rpc")
  created <- tw_tracking_create_experiment(list(
    name = name, tags = list(list(key = "owner", value = "r"))
  ))
  id <- created$experiment$experimentId
  expect_match(id, "^[0-9]+$")
  expect_equal(tw_tracking_get_experiment_by_name(list(name = name))$experiment$experimentId, id)

  renamed <- tw_tracking_update_experiment(list(
    experiment_id = id, name = paste0(name, "-renamed"), update_mask = "name"
  ))
  expect_equal(renamed$experiment$name, paste0(name, "-renamed"))
  tw_tracking_set_experiment_tag(list(experiment_id = id, tag = list(key = "k", value = "v")))
  tags <- tw_tracking_get_experiment(list(experiment_id = id))$experiment$tags
  expect_true(any(vapply(tags, identical, logical(1), list(key = "k", value = "v"))))

  found <- tw_tracking_search_experiments(list(filter = sprintf("name = '%s-renamed'", name)))
  expect_length(found$experiments, 1)

  tw_tracking_delete_experiment(list(experiment_id = id))
  expect_equal(
    tw_tracking_get_experiment(list(experiment_id = id))$experiment$lifecycleStage,
    "LIFECYCLE_STAGE_DELETED"
  )
  tw_tracking_restore_experiment(list(experiment_id = id))
})

test_that("tracking RPCs: LogBatch, then bulk history through a GET with repeated query keys", {
  skip_without_server()
  experiment_id <- local_experiment()
  a <- tw_tracking_create_run(list(experiment_id = experiment_id))$run$info$runId
  b <- tw_tracking_create_run(list(experiment_id = experiment_id))$run$info$runId
  for (run_id in c(a, b)) {
    tw_tracking_log_batch(list(
      run_id = run_id,
      metrics = data.frame(key = "m", value = c(1, 2), timestamp = 1, step = 0:1),
      params = list(list(key = "p", value = "1"))
    ))
  }
  bulk <- tw_tracking_get_metric_history_bulk(list(run_ids = c(a, b), metric_key = "m"))
  expect_equal(vapply(bulk$histories, function(h) h$runId, ""), c(a, b))
  expect_equal(unlist(bulk$histories[[2]]$points$steps), c("0", "1"))
})

test_that("artifact RPCs: stat, list by run and by experiment, delete", {
  skip_without_server()
  experiment_id <- local_experiment()
  run <- tw_start_run()
  local <- tempfile(fileext = ".txt")
  writeLines("hello", local)
  path <- tw_log_artifact(local, "docs")

  stat <- tw_artifacts_stat_artifact(list(scope = list(run_id = run$run_id), path = path))
  expect_equal(stat$file$size, "6")
  listed <- tw_artifacts_list_artifacts(list(scope = list(run_id = run$run_id), path = "docs"))
  expect_equal(vapply(listed$files, function(f) f$path, ""), path)
  # The experiment-scoped binding of the same RPC.
  by_experiment <- tw_artifacts_list_artifacts(list(scope = list(experiment_id = experiment_id)))
  expect_match(by_experiment$rootUri, paste0("/", experiment_id, "$"))

  deleted <- tw_artifacts_delete_artifact(list(scope = list(run_id = run$run_id), path = "docs"))
  expect_equal(deleted$deletedFiles, "1")
  expect_error(
    tw_artifacts_stat_artifact(list(scope = list(run_id = run$run_id), path = path)),
    class = "trackway_not_found"
  )
  expect_error(tw_artifacts_stat_artifact(list(path = "x")), class = "trackway_invalid_argument")
})

test_that("registry RPCs: a model, a version from a run, an alias", {
  skip_without_server()
  local_experiment()
  run <- tw_start_run()
  local <- tempfile()
  writeLines("weights", local)
  tw_log_artifact(local, "model")
  name <- unique_name("r-model")
  model <- tw_registry_create_registered_model(list(name = name, description = "from R"))
  expect_equal(model$registeredModel$name, name)
  version <- tw_registry_create_model_version(list(
    name = name, source = paste0("runs:/", run$run_id, "/model"), run_id = run$run_id
  ))$modelVersion
  expect_equal(version$version, "1")
  tw_registry_set_registered_model_alias(list(name = name, alias = "champion", version = "1"))
  by_alias <- tw_registry_get_model_version_by_alias(list(name = name, alias = "champion"))
  expect_equal(by_alias$modelVersion$runId, run$run_id)
  lineage <- tw_registry_list_run_model_versions(list(run_id = run$run_id))
  expect_equal(lineage$modelVersions[[1]]$name, name)
  expect_error(
    tw_registry_get_registered_model(list(name = paste0(name, "-missing"))),
    class = "trackway_not_found"
  )
  tw_registry_delete_registered_model(list(name = name))
})

test_that("server errors carry the google.rpc.Status", {
  skip_without_server()
  name <- unique_name("r-dup")
  tw_tracking_create_experiment(list(name = name))
  expect_error(tw_tracking_create_experiment(list(name = name)), class = "trackway_already_exists")

  err <- tryCatch(
    tw_tracking_get_run(list(run_id = "0123456789abcdef0123456789abcdef")),
    trackway_error = function(e) e
  )
  expect_s3_class(err, "trackway_not_found")
  expect_equal(err$status, "NOT_FOUND")
  expect_equal(err$http_status, 404L)
  expect_equal(err$reason, "RESOURCE_DOES_NOT_EXIST")
  expect_equal(err$rpc, "trackway.tracking.v1.TrackingService/GetRun")
  expect_match(err$server_message, "0123456789abcdef0123456789abcdef")

  expect_error(tw_tracking_get_run(list()), class = "trackway_invalid_argument")
  expect_error(
    tw_tracking_create_experiment(list(name = "x", no_such_field = 1)),
    class = "trackway_invalid_argument"
  )
})

test_that("an unreachable server raises trackway_unavailable", {
  skip_without_server()
  # Port 9 (discard) has no listener on a test machine: the connection is refused.
  closed <- tw_client("http://127.0.0.1:9", timeout = 5)
  expect_error(
    tw_tracking_get_experiment(list(experiment_id = "1"), client = closed),
    class = "trackway_unavailable"
  )
})
