package dev.trackway.client;

import io.grpc.Status;
import java.util.List;
import java.util.Map;

/**
 * The resource is in a state that forbids the operation, such as a deleted run or a param that
 * would change (FAILED_PRECONDITION).
 */
public class FailedPreconditionException extends TrackwayException {
  private static final long serialVersionUID = 1L;

  public FailedPreconditionException(
      Status.Code code,
      String message,
      String reason,
      Map<String, String> metadata,
      List<FieldViolation> violations,
      Throwable cause) {
    super(code, message, reason, metadata, violations, cause);
  }
}
