package dev.trackway.client;

import io.grpc.Status;
import java.util.List;
import java.util.Map;

/** The named resource does not exist (NOT_FOUND). */
public class NotFoundException extends TrackwayException {
  private static final long serialVersionUID = 1L;

  public NotFoundException(
      Status.Code code,
      String message,
      String reason,
      Map<String, String> metadata,
      List<FieldViolation> violations,
      Throwable cause) {
    super(code, message, reason, metadata, violations, cause);
  }
}
