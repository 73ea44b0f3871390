package dev.trackway.client;

import java.time.Duration;

/**
 * One connection of the {@link MetricLogger} to the server: a LogStream call over gRPC ({@link
 * LogStreamSession}) or a sequence of LogColumns calls over HTTP ({@link HttpLogSession}). Batches
 * go out with {@link #send}, acknowledgements and the end come back to a {@link Listener}.
 */
interface LogSession {
  interface Listener {
    /** The server committed every batch up to {@code seq}. */
    void onAck(LogSession session, long seq);

    /** The session ended: {@code error} null when it closed cleanly. */
    void onEnd(LogSession session, Throwable error);
  }

  /**
   * The server's last committed seq for the writer, or -1 when the session ended or did not open
   * within {@code timeout}.
   */
  long awaitOpened(Duration timeout) throws InterruptedException;

  boolean isEnded();

  boolean awaitEnded(long millis) throws InterruptedException;

  /** The error the session ended with, null when none. */
  Throwable error();

  /** Sends a batch with its current seq, without waiting. */
  void send(PendingBatch batch);

  /** Sends nothing more: what was sent is acknowledged, then the session ends. */
  void halfClose();

  /** Ends the session at once. */
  void cancel();
}
