package dev.trackway.client;

import io.grpc.Status;
import java.util.List;
import java.util.Map;

/**
 * An error that the Trackway server reported, or that the client detected on its behalf.
 *
 * <p>The server binds every error to a canonical gRPC code and attaches a {@code google.rpc.Status}
 * with an {@code ErrorInfo} (domain {@code trackway.dev}, a machine-readable reason such as {@code
 * RESOURCE_DOES_NOT_EXIST}) and, for bad input, a {@code BadRequest} naming each field. This class
 * carries all of it; its subclasses name the codes worth catching one by one, so callers catch a
 * type rather than compare codes.
 */
public class TrackwayException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  /** One bad field of a request: its path and what to fix. */
  public record FieldViolation(String field, String description) {}

  private final Status.Code code;
  private final String reason;
  private final Map<String, String> metadata;
  private final List<FieldViolation> violations;

  public TrackwayException(
      Status.Code code,
      String message,
      String reason,
      Map<String, String> metadata,
      List<FieldViolation> violations,
      Throwable cause) {
    super(message, cause);
    this.code = code;
    this.reason = reason == null ? "" : reason;
    this.metadata = Map.copyOf(metadata);
    this.violations = List.copyOf(violations);
  }

  /** The gRPC status code of the failure. */
  public Status.Code code() {
    return code;
  }

  /**
   * The ErrorInfo reason, such as {@code RESOURCE_DOES_NOT_EXIST}; empty when the server sent none.
   */
  public String reason() {
    return reason;
  }

  /** The ErrorInfo metadata, such as the {@code seq} of a refused LogStream batch. */
  public Map<String, String> metadata() {
    return metadata;
  }

  /** The BadRequest field violations; empty unless the input was invalid. */
  public List<FieldViolation> violations() {
    return violations;
  }
}
