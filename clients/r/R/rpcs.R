# The generated per-RPC functions, listed.

tw_rpcs <- function() rpc_table
