package dev.trackway.client;

import io.grpc.Status;
import java.util.List;
import java.util.Map;

/**
 * The request is malformed or breaks a documented limit (INVALID_ARGUMENT, OUT_OF_RANGE); {@link
 * #violations()} names the fields.
 */
public class InvalidArgumentException extends TrackwayException {
  private static final long serialVersionUID = 1L;

  public InvalidArgumentException(
      Status.Code code,
      String message,
      String reason,
      Map<String, String> metadata,
      List<FieldViolation> violations,
      Throwable cause) {
    super(code, message, reason, metadata, violations, cause);
  }
}
