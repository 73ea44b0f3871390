package dev.trackway.client;

import io.grpc.Status;
import java.util.List;
import java.util.Map;

/** A resource with the same unique name exists (ALREADY_EXISTS). */
public class AlreadyExistsException extends TrackwayException {
  private static final long serialVersionUID = 1L;

  public AlreadyExistsException(
      Status.Code code,
      String message,
      String reason,
      Map<String, String> metadata,
      List<FieldViolation> violations,
      Throwable cause) {
    super(code, message, reason, metadata, violations, cause);
  }
}
