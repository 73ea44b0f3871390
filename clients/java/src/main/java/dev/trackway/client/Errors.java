package dev.trackway.client;

import com.google.protobuf.Any;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.rpc.BadRequest;
import com.google.rpc.ErrorInfo;
import dev.trackway.client.TrackwayException.FieldViolation;
import io.grpc.Status;
import io.grpc.protobuf.StatusProto;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Turns failed gRPC calls into the typed {@link TrackwayException} hierarchy. */
final class Errors {
  private Errors() {}

  /** Codes after which the same request (with the same request_id) may be sent again. */
  static boolean retryable(Status.Code code) {
    return code == Status.Code.UNAVAILABLE
        || code == Status.Code.DEADLINE_EXCEEDED
        || code == Status.Code.RESOURCE_EXHAUSTED;
  }

  /**
   * The typed exception for a failed call: the server's message, ErrorInfo reason and metadata, and
   * BadRequest violations when it sent a {@code google.rpc.Status}; {@code target} names the server
   * in messages about reaching it.
   */
  static TrackwayException from(Throwable failure, String target) {
    if (failure instanceof TrackwayException typed) {
      return typed;
    }
    Status status = Status.fromThrowable(failure);
    Status.Code code = status.getCode();
    String message = status.getDescription() == null ? code.name() : status.getDescription();
    String reason = "";
    Map<String, String> metadata = new LinkedHashMap<>();
    List<FieldViolation> violations = new ArrayList<>();
    com.google.rpc.Status detailed = StatusProto.fromThrowable(failure);
    if (detailed != null) {
      if (!detailed.getMessage().isEmpty()) {
        message = detailed.getMessage();
      }
      for (Any detail : detailed.getDetailsList()) {
        try {
          if (detail.is(ErrorInfo.class)) {
            ErrorInfo info = detail.unpack(ErrorInfo.class);
            reason = info.getReason();
            metadata.putAll(info.getMetadataMap());
          } else if (detail.is(BadRequest.class)) {
            for (BadRequest.FieldViolation v :
                detail.unpack(BadRequest.class).getFieldViolationsList()) {
              violations.add(new FieldViolation(v.getField(), v.getDescription()));
            }
          }
        } catch (InvalidProtocolBufferException e) {
          // A detail we cannot read loses only its extra information, never the error.
        }
      }
    }
    if (code == Status.Code.UNAVAILABLE && reason.isEmpty()) {
      // No ErrorInfo: gRPC itself failed to reach the server, as opposed to the server
      // answering that it is shutting down.
      message = "cannot reach the Trackway server at " + target + ": " + message;
    }
    if (code == Status.Code.DEADLINE_EXCEEDED) {
      message = "the call to " + target + " timed out: " + message;
    }
    return of(code, message, reason, metadata, violations, failure);
  }

  /** An exception of the class bound to {@code code}. */
  static TrackwayException of(
      Status.Code code,
      String message,
      String reason,
      Map<String, String> metadata,
      List<FieldViolation> violations,
      Throwable cause) {
    return switch (code) {
      case NOT_FOUND -> new NotFoundException(code, message, reason, metadata, violations, cause);
      case INVALID_ARGUMENT, OUT_OF_RANGE ->
          new InvalidArgumentException(code, message, reason, metadata, violations, cause);
      case ALREADY_EXISTS ->
          new AlreadyExistsException(code, message, reason, metadata, violations, cause);
      case FAILED_PRECONDITION ->
          new FailedPreconditionException(code, message, reason, metadata, violations, cause);
      case ABORTED -> new AbortedException(code, message, reason, metadata, violations, cause);
      case UNAVAILABLE, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED ->
          new UnavailableException(code, message, reason, metadata, violations, cause);
      case DATA_LOSS -> new DataLossException(code, message, reason, metadata, violations, cause);
      case UNAUTHENTICATED ->
          new UnauthenticatedException(code, message, reason, metadata, violations, cause);
      case PERMISSION_DENIED ->
          new PermissionDeniedException(code, message, reason, metadata, violations, cause);
      default ->
          new TrackwayException(
              code, code.name() + ": " + message, reason, metadata, violations, cause);
    };
  }

  /** A client-side error of a given code with only a message. */
  static TrackwayException of(Status.Code code, String message) {
    return of(code, message, "", Map.of(), List.of(), null);
  }
}
