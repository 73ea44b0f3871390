package dev.trackway.client;

import io.grpc.Status;
import java.util.List;
import java.util.Map;

/**
 * The call carried no valid credentials (UNAUTHENTICATED), as a proxy in front of the server may
 * answer.
 */
public class UnauthenticatedException extends TrackwayException {
  private static final long serialVersionUID = 1L;

  public UnauthenticatedException(
      Status.Code code,
      String message,
      String reason,
      Map<String, String> metadata,
      List<FieldViolation> violations,
      Throwable cause) {
    super(code, message, reason, metadata, violations, cause);
  }
}
