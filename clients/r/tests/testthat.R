# The tests that need a server read TRACKWAY_TRACKING_URI (the server's HTTP address)
# and skip when it is unset, so that checks without a server still pass.
library(testthat)
library(trackway)

test_check("trackway")
