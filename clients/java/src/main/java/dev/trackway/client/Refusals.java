package dev.trackway.client;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Batches the server refused, kept until the next flush() or close() throws them. Refusals are
 * grouped by run, exception class and message, so that a deleted run's thousand refused batches
 * make one error.
 */
final class Refusals {
  private static final class Group {
    final String runId;
    final TrackwayException error;
    int batches;
    long points;
    long params;
    long tags;

    Group(String runId, TrackwayException error) {
      this.runId = runId;
      this.error = error;
    }

    String describe() {
      List<String> parts = new ArrayList<>();
      if (points > 0) {
        parts.add(points + " points");
      }
      if (params > 0) {
        parts.add(params + " params");
      }
      if (tags > 0) {
        parts.add(tags + " tags");
      }
      String lost = parts.isEmpty() ? "nothing" : String.join(", ", parts);
      String where = runId.isEmpty() ? "" : " to run " + runId;
      return "background logging"
          + where
          + " failed: "
          + error.getMessage()
          + " ("
          + lost
          + " in "
          + batches
          + (batches == 1 ? " batch" : " batches")
          + " not written)";
    }
  }

  private final Map<List<Object>, Group> groups = new LinkedHashMap<>();

  synchronized void record(PendingBatch batch, TrackwayException error) {
    String runId = batch == null ? "" : batch.runId();
    Group group =
        groups.computeIfAbsent(
            List.of(runId, error.getClass(), String.valueOf(error.getMessage())),
            k -> new Group(runId, error));
    if (batch != null) {
      group.batches++;
      group.points += batch.points;
      group.params += batch.params;
      group.tags += batch.tags;
    }
  }

  /**
   * Throws the first refusal as its own exception class, with the server's reason and metadata plus
   * {@code run_id}, naming the others in its message; then forgets them all.
   */
  void throwPending() {
    List<Group> taken;
    synchronized (this) {
      if (groups.isEmpty()) {
        return;
      }
      taken = new ArrayList<>(groups.values());
      groups.clear();
    }
    Group first = taken.get(0);
    StringBuilder message = new StringBuilder(first.describe());
    for (Group other : taken.subList(1, taken.size())) {
      message.append("; also ").append(other.describe());
    }
    Map<String, String> metadata = new LinkedHashMap<>(first.error.metadata());
    metadata.put("run_id", first.runId);
    throw Errors.of(
        first.error.code(),
        message.toString(),
        first.error.reason(),
        metadata,
        first.error.violations(),
        first.error);
  }
}
