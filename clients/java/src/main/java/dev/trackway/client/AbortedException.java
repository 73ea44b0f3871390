package dev.trackway.client;

import io.grpc.Status;
import java.util.List;
import java.util.Map;

/** A concurrent change won, such as a stale {@code expected_last_updated_timestamp} (ABORTED). */
public class AbortedException extends TrackwayException {
  private static final long serialVersionUID = 1L;

  public AbortedException(
      Status.Code code,
      String message,
      String reason,
      Map<String, String> metadata,
      List<FieldViolation> violations,
      Throwable cause) {
    super(code, message, reason, metadata, violations, cause);
  }
}
