# Artifact upload and download through the HTTP form, streamed to and from files.

test_that("a file goes up and comes back byte for byte", {
  skip_without_server()
  local_experiment()
  run <- tw_start_run()
  local <- tempfile(fileext = ".bin")
  bytes <- as.raw(sample.int(256, 3e6, replace = TRUE) - 1L)
  writeBin(bytes, local)
  stored <- tw_log_artifact(local, "data/raw")
  expect_equal(stored, paste0("data/raw/", basename(local)))

  listing <- tw_list_artifacts("data/raw")
  expect_equal(listing$path, stored)
  expect_equal(listing$size, 3e6)
  expect_false(listing$is_dir)
  expect_true(tw_list_artifacts()$is_dir[tw_list_artifacts()$path == "data"])

  dst <- tempfile()
  back <- tw_download_artifact(stored, dst)
  expect_equal(back, file.path(dst, basename(local)))
  expect_identical(readBin(back, "raw", 4e6), bytes)
  expect_false(file.exists(paste0(back, ".part")))
})

test_that("folders go up and come back as trees", {
  skip_without_server()
  local_experiment()
  run <- tw_start_run()
  src <- file.path(tempfile(), "model")
  dir.create(file.path(src, "weights"), recursive = TRUE)
  writeLines("{}", file.path(src, "config.json"))
  writeLines("w", file.path(src, "weights", "layer 1.txt"))
  file.create(file.path(src, "empty"))
  stored <- tw_log_artifact(src, "model")
  expect_setequal(stored, c("model/config.json", "model/weights/layer 1.txt", "model/empty"))

  dst <- tempfile()
  back <- tw_download_artifact("model", dst)
  expect_equal(back, file.path(dst, "model"))
  expect_setequal(
    list.files(back, recursive = TRUE),
    c("config.json", "weights/layer 1.txt", "empty")
  )
  expect_equal(readLines(file.path(back, "weights", "layer 1.txt")), "w")
  expect_equal(file.size(file.path(back, "empty")), 0)

  whole <- tw_download_artifact(dst_path = tempfile())
  expect_true(file.exists(file.path(whole, "model", "config.json")))
})

test_that("artifact errors are trackway conditions", {
  skip_without_server()
  local_experiment()
  run <- tw_start_run()
  expect_error(tw_download_artifact("missing.txt"), class = "trackway_not_found")
  expect_error(tw_log_artifact(tempfile()), class = "trackway_invalid_argument")
  local <- tempfile()
  writeLines("x", local)
  expect_error(tw_log_artifact(local, "../escape"), class = "trackway_invalid_argument")
})
