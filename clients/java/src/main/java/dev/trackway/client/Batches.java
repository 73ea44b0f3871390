package dev.trackway.client;

import dev.trackway.tracking.v1.LogStreamBatch;
import dev.trackway.tracking.v1.MetricColumns;
import dev.trackway.tracking.v1.Param;
import dev.trackway.tracking.v1.RunTag;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;

/** Turns what the logger's callers queued into columnar LogStream batches. */
final class Batches {
  /** The server's limits per batch. */
  static final int MAX_POINTS = 100_000;

  static final int MAX_PARAMS = 100;
  static final int MAX_TAGS = 100;

  /** One metric point, stamped at the call. */
  record Point(String runId, String key, double value, long step, long timestamp) {}

  /** A param ({@code param} true) or a tag. */
  record Entry(boolean param, String runId, String key, String value) {}

  private Batches() {}

  /**
   * Groups items in order into batches of one run each, with at most {@code maxPoints} points, 100
   * params and 100 tags and no key twice, the points of a key in one column. A change of run or a
   * flush marker closes the batch being built, so that batches keep the order of the calls and a
   * marker follows every batch built before it.
   */
  static void build(
      List<Object> items,
      int maxPoints,
      String worker,
      Consumer<PendingBatch> onBatch,
      Consumer<FlushMarker> onMarker) {
    Builder current = null;
    for (Object item : items) {
      if (item instanceof FlushMarker marker) {
        if (current != null) {
          onBatch.accept(current.finish());
          current = null;
        }
        onMarker.accept(marker);
        continue;
      }
      String runId = item instanceof Point p ? p.runId() : ((Entry) item).runId();
      if (current != null && (!current.runId.equals(runId) || current.full(item, maxPoints))) {
        onBatch.accept(current.finish());
        current = null;
      }
      if (current == null) {
        current = new Builder(runId, worker);
      }
      current.add(item);
    }
    if (current != null) {
      onBatch.accept(current.finish());
    }
  }

  private static final class Builder {
    final String runId;
    final String worker;
    final Map<String, MetricColumns.Builder> columns = new LinkedHashMap<>();
    final LogStreamBatch.Builder batch = LogStreamBatch.newBuilder();
    final Set<String> paramKeys = new HashSet<>();
    final Set<String> tagKeys = new HashSet<>();
    int points;

    Builder(String runId, String worker) {
      this.runId = runId;
      this.worker = worker;
      batch.setRunId(runId);
    }

    boolean full(Object item, int maxPoints) {
      if (item instanceof Point) {
        return points >= maxPoints;
      }
      Entry entry = (Entry) item;
      return entry.param()
          ? paramKeys.size() >= MAX_PARAMS || paramKeys.contains(entry.key())
          : tagKeys.size() >= MAX_TAGS || tagKeys.contains(entry.key());
    }

    void add(Object item) {
      if (item instanceof Point p) {
        MetricColumns.Builder column =
            columns.computeIfAbsent(
                p.key(), k -> MetricColumns.newBuilder().setKey(k).setWorker(worker));
        column.addSteps(p.step()).addTimestamps(p.timestamp()).addValues(p.value());
        points++;
      } else {
        Entry e = (Entry) item;
        if (e.param()) {
          paramKeys.add(e.key());
          batch.addParams(Param.newBuilder().setKey(e.key()).setValue(e.value()));
        } else {
          tagKeys.add(e.key());
          batch.addTags(RunTag.newBuilder().setKey(e.key()).setValue(e.value()));
        }
      }
    }

    PendingBatch finish() {
      columns.values().forEach(batch::addMetrics);
      return new PendingBatch(batch.build(), points, paramKeys.size(), tagKeys.size());
    }
  }
}
