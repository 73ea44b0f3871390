package dev.trackway.client;

import io.grpc.Status;
import java.util.List;
import java.util.Map;

/**
 * The server could not be reached or answered in time (UNAVAILABLE, DEADLINE_EXCEEDED,
 * RESOURCE_EXHAUSTED); retrying later is safe.
 */
public class UnavailableException extends TrackwayException {
  private static final long serialVersionUID = 1L;

  public UnavailableException(
      Status.Code code,
      String message,
      String reason,
      Map<String, String> metadata,
      List<FieldViolation> violations,
      Throwable cause) {
    super(code, message, reason, metadata, violations, cause);
  }
}
