package dev.trackway.client;

import io.grpc.Status;
import java.util.regex.Pattern;

/**
 * The server's rules for what the metric logger batches, checked at the call: a bad key caught here
 * fails one call instead of sinking the good points that share its batch.
 */
final class Checks {
  private static final Pattern KEY_CHARS =
      Pattern.compile("[\\w\\-. /]+", Pattern.UNICODE_CHARACTER_CLASS);
  private static final Pattern RUN_ID = Pattern.compile("[0-9a-f]{32}");
  static final int MAX_KEY_LENGTH = 250;
  static final int MAX_PARAM_VALUE_LENGTH = 6000;
  static final int MAX_TAG_VALUE_LENGTH = 8000;

  private Checks() {}

  static void runId(String runId) {
    if (runId == null || !RUN_ID.matcher(runId).matches()) {
      throw invalid("run_id", runId + " is not a run id (32 lowercase hex characters)");
    }
  }

  /** Letters, digits, {@code _ - . /} and space, forming a plain relative path. */
  static void key(String key) {
    if (key == null || key.isEmpty()) {
      throw invalid("key", "must not be empty");
    }
    int length = key.codePointCount(0, key.length());
    if (length > MAX_KEY_LENGTH) {
      throw invalid("key", "is " + length + " characters; at most " + MAX_KEY_LENGTH);
    }
    if (!KEY_CHARS.matcher(key).matches()) {
      throw invalid(
          "key",
          "'"
              + key
              + "' may only hold letters, digits, underscores, dashes, periods, slashes and"
              + " spaces");
    }
    for (String segment : key.split("/", -1)) {
      if (key.startsWith("/") || segment.isEmpty() || segment.equals(".") || segment.equals("..")) {
        throw invalid(
            "key",
            "'" + key + "' must be a plain relative path: no '..', '.', '//' or leading '/'");
      }
    }
  }

  static void value(String key, String value, int maxLength) {
    if (value == null) {
      throw invalid("value", "the value of '" + key + "' is null");
    }
    int length = value.codePointCount(0, value.length());
    if (length > maxLength) {
      throw invalid(
          "value", "the value of '" + key + "' is " + length + " characters; at most " + maxLength);
    }
  }

  private static TrackwayException invalid(String field, String description) {
    return Errors.of(
        Status.Code.INVALID_ARGUMENT,
        field + ": " + description,
        "INVALID_PARAMETER_VALUE",
        java.util.Map.of(),
        java.util.List.of(new TrackwayException.FieldViolation(field, description)),
        null);
  }
}
