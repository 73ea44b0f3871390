package dev.trackway.client;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.util.JsonFormat;
import com.google.rpc.ErrorDetailsProto;
import com.google.rpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.StatusProto;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.net.ConnectException;
import java.net.http.HttpTimeoutException;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;

/**
 * Failed HTTP calls in gRPC's shape: a {@link StatusRuntimeException} that carries the server's
 * {@code google.rpc.Status} in its trailers, as gRPC does, so that {@link Errors#from} and the
 * retry loops treat both transports alike.
 */
final class HttpErrors {
  /** The google.rpc error details (ErrorInfo, BadRequest, ...) that a Status JSON may hold. */
  private static final JsonFormat.Parser STATUS =
      JsonFormat.parser()
          .ignoringUnknownFields()
          .usingTypeRegistry(
              JsonFormat.TypeRegistry.newBuilder()
                  .add(ErrorDetailsProto.getDescriptor().getMessageTypes())
                  .build());

  private HttpErrors() {}

  /** The error of a non-2xx answer from its status and body. */
  static StatusRuntimeException fromAnswer(int httpStatus, byte[] body) {
    return StatusProto.toStatusRuntimeException(status(httpStatus, body));
  }

  /**
   * The google.rpc.Status of a failed call; an answer that is not one (a proxy's error page, say)
   * becomes a Status with the code that the HTTP status maps to.
   */
  static Status status(int httpStatus, byte[] body) {
    Status.Builder parsed = Status.newBuilder();
    try {
      STATUS.merge(new String(body, StandardCharsets.UTF_8), parsed);
    } catch (InvalidProtocolBufferException | RuntimeException notAStatus) {
      parsed.clear();
    }
    if (parsed.getCode() != 0) {
      return parsed.build();
    }
    String text = new String(body, 0, Math.min(body.length, 200), StandardCharsets.UTF_8).strip();
    return Status.newBuilder()
        .setCode(codeForHttp(httpStatus).value())
        .setMessage("HTTP " + httpStatus + (text.isEmpty() ? "" : ": " + text))
        .build();
  }

  /** The gRPC code of an HTTP status, as grpc-gateway and Envoy map them. */
  static io.grpc.Status.Code codeForHttp(int httpStatus) {
    return switch (httpStatus) {
      case 400, 413 -> io.grpc.Status.Code.INVALID_ARGUMENT;
      case 401 -> io.grpc.Status.Code.UNAUTHENTICATED;
      case 403 -> io.grpc.Status.Code.PERMISSION_DENIED;
      case 404 -> io.grpc.Status.Code.NOT_FOUND;
      case 409 -> io.grpc.Status.Code.ABORTED;
      case 429, 502, 503 -> io.grpc.Status.Code.UNAVAILABLE;
      case 504 -> io.grpc.Status.Code.DEADLINE_EXCEEDED;
      default -> httpStatus >= 500 ? io.grpc.Status.Code.INTERNAL : io.grpc.Status.Code.UNKNOWN;
    };
  }

  /**
   * The error of a call that got no answer: UNAVAILABLE when the server cannot be reached or the
   * connection broke (so the retry loops apply), DEADLINE_EXCEEDED when the time ran out.
   */
  static StatusRuntimeException fromFailure(Throwable failure) {
    Throwable cause = failure;
    while ((cause instanceof CompletionException || cause instanceof ExecutionException)
        && cause.getCause() != null) {
      cause = cause.getCause();
    }
    io.grpc.Status status;
    if (cause instanceof HttpTimeoutException) {
      status = io.grpc.Status.DEADLINE_EXCEEDED.withDescription("no answer in time");
    } else if (cause instanceof CancellationException
        || (cause instanceof InterruptedIOException && !(cause instanceof HttpTimeoutException))
        || cause instanceof InterruptedException) {
      status = io.grpc.Status.CANCELLED.withDescription("the call was cancelled");
    } else if (cause instanceof ConnectException) {
      status = io.grpc.Status.UNAVAILABLE.withDescription("cannot connect: " + describe(cause));
    } else if (cause instanceof IOException) {
      status =
          io.grpc.Status.UNAVAILABLE.withDescription("the connection broke: " + describe(cause));
    } else {
      status = io.grpc.Status.INTERNAL.withDescription("the HTTP call failed: " + describe(cause));
    }
    return status.withCause(cause).asRuntimeException();
  }

  private static String describe(Throwable t) {
    String message = t.getMessage();
    return message == null || message.isEmpty() ? t.getClass().getSimpleName() : message;
  }
}
