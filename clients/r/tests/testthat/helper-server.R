# Shared by the tests that talk to a live server.

skip_without_server <- function() {
  skip_if(
    !nzchar(Sys.getenv("TRACKWAY_TRACKING_URI")),
    "TRACKWAY_TRACKING_URI is not set: no server to test against"
  )
}

# A name no other test (or earlier run of the suite) uses.
unique_name <- function(prefix) {
  paste0(prefix, "-", format(Sys.time(), "%Y%m%d%H%M%OS6"), "-", sample.int(1e9, 1))
}

# A fresh experiment for this test, made the default of new runs. Runs that an earlier
# test left active (it failed half-way) are ended first, so each test starts clean.
local_experiment <- function() {
  while (length(the$runs) > 0) tw_end_run(status = "KILLED")
  tw_set_experiment(unique_name("r-test"))
}
