package dev.trackway.client;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Consumer;

/**
 * Batches sent but not yet acknowledged, and the flush markers waiting on them: where exactly-once
 * lives on the client side.
 *
 * <p>The server commits a writer's batches strictly in seq order, each together with the writer's
 * last seq, and acknowledges in order. So after any break, the {@code last_committed_seq} L of the
 * next {@code opened} says which batches are in: every batch with seq at most L is committed
 * (dropped here as if acknowledged), none after it is; the rest are renumbered L+1, L+2, ... in
 * serial order and sent again. A refused batch is dropped with its error recorded, and the rest
 * move up at the next open. No batch is committed twice, none is lost while the process lives.
 */
final class Inflight {
  private final TreeMap<Long, PendingBatch> bySeq = new TreeMap<>();
  private final List<FlushMarker> markers = new ArrayList<>();
  private long nextSeq = 1;
  private long nextSerial = 1;
  private long points;
  private long ackedPoints;

  /** Numbers a new batch (serial and seq) and holds it until acknowledged. */
  synchronized void add(PendingBatch batch) {
    batch.serial = nextSerial++;
    batch.seq = nextSeq++;
    bySeq.put(batch.seq, batch);
    points += batch.points;
  }

  /** Everything up to {@code seq} is committed. */
  synchronized void ack(long seq) {
    Map<Long, PendingBatch> done = bySeq.headMap(seq, true);
    for (PendingBatch batch : done.values()) {
      points -= batch.points;
      ackedPoints += batch.points;
    }
    done.clear();
    settle();
  }

  /**
   * Forgets a refused batch ({@code seq}, or the oldest when null); {@code why} records the failure
   * before any flush waiting on the batch is released, so that the flush sees it.
   */
  synchronized void drop(Long seq, Consumer<PendingBatch> why) {
    Map.Entry<Long, PendingBatch> entry = seq == null ? bySeq.firstEntry() : bySeq.floorEntry(seq);
    if (entry == null || (seq != null && entry.getKey().longValue() != seq)) {
      entry = bySeq.firstEntry();
    }
    if (entry == null) {
      why.accept(null);
      return;
    }
    PendingBatch batch = bySeq.remove(entry.getKey());
    points -= batch.points;
    why.accept(batch);
    settle();
  }

  /** The oldest batch in flight, or null. */
  synchronized PendingBatch head() {
    Map.Entry<Long, PendingBatch> first = bySeq.firstEntry();
    return first == null ? null : first.getValue();
  }

  /**
   * After an open: drops what the server holds, renumbers the rest from {@code lastCommitted} + 1,
   * and returns them in order to send again.
   */
  synchronized List<PendingBatch> reconcile(long lastCommitted) {
    List<PendingBatch> rest = new ArrayList<>();
    for (PendingBatch batch : bySeq.values()) {
      if (batch.seq <= lastCommitted) {
        points -= batch.points;
        ackedPoints += batch.points;
      } else {
        rest.add(batch);
      }
    }
    rest.sort((a, b) -> Long.compare(a.serial, b.serial));
    bySeq.clear();
    long seq = lastCommitted;
    for (PendingBatch batch : rest) {
      batch.seq = ++seq;
      bySeq.put(batch.seq, batch);
    }
    nextSeq = seq + 1;
    settle();
    return rest;
  }

  /** Drops every batch, handing each to {@code why} first, and releases every marker. */
  synchronized void failAll(Consumer<PendingBatch> why) {
    for (PendingBatch batch : bySeq.values()) {
      why.accept(batch);
    }
    bySeq.clear();
    points = 0;
    releaseMarkers();
  }

  /** The marker completes once every batch numbered so far is settled. */
  synchronized void mark(FlushMarker marker) {
    marker.serial = nextSerial - 1;
    markers.add(marker);
    settle();
  }

  synchronized void releaseMarkers() {
    markers.forEach(m -> m.done.countDown());
    markers.clear();
  }

  synchronized boolean isEmpty() {
    return bySeq.isEmpty();
  }

  synchronized long points() {
    return points;
  }

  synchronized long ackedPoints() {
    return ackedPoints;
  }

  /**
   * Waits up to {@code millis} until fewer than {@code window} points are in flight; true when
   * there is room.
   */
  synchronized boolean awaitRoom(long window, long millis) throws InterruptedException {
    if (points >= window) {
      wait(millis);
    }
    return points < window;
  }

  private void settle() {
    // Serials and seqs grow together (renumbering keeps serial order), so the first entry
    // holds the oldest serial in flight.
    Map.Entry<Long, PendingBatch> first = bySeq.firstEntry();
    long oldest = first == null ? nextSerial : first.getValue().serial;
    markers.removeIf(
        marker -> {
          if (marker.serial < oldest) {
            marker.done.countDown();
            return true;
          }
          return false;
        });
    notifyAll();
  }
}
