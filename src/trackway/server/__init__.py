"""The gRPC server: servicers, the error interceptor, and the process that hosts them."""
