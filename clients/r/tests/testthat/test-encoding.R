# How R values become proto3 JSON, paths and query strings: pure functions, no server.

test_that("a length-one vector for a repeated field stays a JSON array", {
  fields <- encode_message(
    list(experiment_ids = "1", filter = "x", page_size = 5),
    "trackway.tracking.v1.SearchRunsRequest", "request"
  )
  expect_equal(
    to_json(fields),
    "{\"experiment_ids\":[\"1\"],\"filter\":\"x\",\"page_size\":5}"
  )
})

test_that("int64 goes as a string and doubles keep every bit", {
  fields <- encode_message(
    list(
      run_id = "r",
      metric = list(key = "k", value = 0.1 + 0.2, timestamp = 1712345678901, step = 3)
    ),
    "trackway.tracking.v1.LogMetricRequest", "request"
  )
  json <- to_json(fields)
  expect_match(json, "\"timestamp\":\"1712345678901\"", fixed = TRUE)
  expect_match(json, "\"step\":\"3\"", fixed = TRUE)
  expect_identical(jsonlite::fromJSON(json)$metric$value, 0.1 + 0.2)
})

test_that("non-finite doubles are spelled the proto3 JSON way", {
  expect_equal(
    json_number_text(c(NaN, Inf, -Inf, 2)),
    c("\"NaN\"", "\"Infinity\"", "\"-Infinity\"", "2")
  )
  expect_equal(json_doubles(list(1.5, "NaN", "Infinity", "-Infinity")), c(1.5, NaN, Inf, -Inf))
})

test_that("repeated messages take a data.frame, a list, or one message", {
  df <- data.frame(key = c("a", "b"), value = c(1, 2), timestamp = 1, step = 0:1)
  from_df <- encode_message(
    list(run_id = "r", metrics = df), "trackway.tracking.v1.LogBatchRequest", "request"
  )
  expect_length(from_df$metrics, 2)
  expect_equal(from_df$metrics[[2]]$step, "1")
  one <- encode_message(
    list(run_id = "r", tags = list(key = "a", value = "b")),
    "trackway.tracking.v1.LogBatchRequest", "request"
  )
  expect_equal(to_json(one), "{\"run_id\":\"r\",\"tags\":[{\"key\":\"a\",\"value\":\"b\"}]}")
})

test_that("a FieldMask is one string of lowerCamelCase paths", {
  fields <- encode_message(
    list(run_id = "r", update_mask = c("status", "end_time")),
    "trackway.tracking.v1.UpdateRunRequest", "request"
  )
  expect_equal(fields$update_mask, "status,endTime")
})

test_that("bad values fail before anything is sent", {
  expect_error(
    encode_message(list(run_id = c("a", "b")), "trackway.tracking.v1.GetRunRequest", "request"),
    class = "trackway_invalid_argument"
  )
  expect_error(
    encode_message(list(start_time = 1.5), "trackway.tracking.v1.CreateRunRequest", "request"),
    "whole numbers"
  )
  expect_error(
    encode_message(list(1, 2), "trackway.tracking.v1.GetRunRequest", "request"),
    "named list"
  )
})

test_that("path variables are escaped per segment, and ** keeps slashes", {
  bound <- bind_path(
    "/v1/runs/{run_id}/metrics/{metric_key=**}",
    list(run_id = "a b/c", metric_key = "train/loss %", page_size = 2)
  )
  expect_equal(bound$path, "/v1/runs/a%20b%2Fc/metrics/train/loss%20%25")
  expect_equal(names(bound$rest), "page_size")
})

test_that("nested path fields are taken out of the request", {
  bound <- bind_path(
    "/v1/runs/{scope.run_id}/artifacts",
    list(scope = list(run_id = "abc"), path = "x")
  )
  expect_equal(bound$path, "/v1/runs/abc/artifacts")
  expect_equal(bound$rest, list(path = "x"))
})

test_that("the first binding whose path fields are set is chosen", {
  bindings <- list(
    list(verb = "GET", path = "/v1/runs/{scope.run_id}/artifacts", body = ""),
    list(verb = "GET", path = "/v1/experiments/{scope.experiment_id}/artifacts", body = "")
  )
  chosen <- choose_binding(bindings, list(scope = list(experiment_id = "7")), "rpc")
  expect_equal(chosen$path, "/v1/experiments/{scope.experiment_id}/artifacts")
  expect_error(choose_binding(bindings, list(), "rpc"), class = "trackway_invalid_argument")
})

test_that("query strings repeat keys and dot nested names", {
  fields <- encode_message(
    list(run_ids = c("a", "b"), metric_key = "loss", max_points = 10),
    "trackway.tracking.v1.GetMetricHistoryBulkRequest", "request"
  )
  expect_equal(query_string(fields), "?run_ids=a&run_ids=b&metric_key=loss&max_points=10")
  expect_equal(
    query_string(list(scope = list(run_id = "x y"), flag = TRUE)),
    "?scope.run_id=x%20y&flag=true"
  )
  expect_equal(query_string(list()), "")
})

test_that("tw_client checks its address and hides its token", {
  expect_error(tw_client(""), "TRACKWAY_TRACKING_URI")
  expect_error(tw_client("grpc://127.0.0.1:50051"), "HTTP/JSON")
  client <- tw_client("http://127.0.0.1:1/", token = "secret")
  expect_equal(client$uri, "http://127.0.0.1:1")
  expect_false(any(grepl("secret", capture.output(print(client)))))
})

test_that("tw_rpcs lists a generated function for every service", {
  rpcs <- tw_rpcs()
  expected <- c(
    "tw_tracking_create_run", "tw_artifacts_list_artifacts", "tw_registry_get_model_version"
  )
  expect_true(all(expected %in% rpcs$function_name))
  expect_true(all(vapply(rpcs$function_name, exists, logical(1))))
})
