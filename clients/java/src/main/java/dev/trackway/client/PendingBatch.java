package dev.trackway.client;

import dev.trackway.tracking.v1.LogStreamBatch;

/**
 * A LogStream batch that the logger holds until the server acknowledges it. Its {@code serial} is
 * fixed at creation and orders batches for flushes; its {@code seq} is its number on the writer's
 * stream and changes when batches are renumbered after a reconnect.
 */
final class PendingBatch {
  /** The batch without its seq, which is set when it is sent. */
  final LogStreamBatch batch;

  final int points;
  final int params;
  final int tags;
  long serial;
  long seq;

  /** Streams that ended with INTERNAL or UNKNOWN while this batch was the oldest. */
  int suspectEnds;

  PendingBatch(LogStreamBatch batch, int points, int params, int tags) {
    this.batch = batch;
    this.points = points;
    this.params = params;
    this.tags = tags;
  }

  String runId() {
    return batch.getRunId();
  }
}
