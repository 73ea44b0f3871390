package dev.trackway.client;

import io.grpc.Status;
import java.util.List;
import java.util.Map;

/**
 * The bytes received are not the bytes that were sent, such as an upload whose SHA-256 differs
 * (DATA_LOSS).
 */
public class DataLossException extends TrackwayException {
  private static final long serialVersionUID = 1L;

  public DataLossException(
      Status.Code code,
      String message,
      String reason,
      Map<String, String> metadata,
      List<FieldViolation> violations,
      Throwable cause) {
    super(code, message, reason, metadata, violations, cause);
  }
}
