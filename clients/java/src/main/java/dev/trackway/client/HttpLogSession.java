package dev.trackway.client;

import dev.trackway.tracking.v1.LogColumnsRequest;
import dev.trackway.tracking.v1.TrackingServiceGrpc;
import io.grpc.Channel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.time.Duration;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * The metric logger's session over HTTP, where LogStream has no form: each batch is one LogColumns
 * call (the same columns and limits, applied atomically), sent one after the other by a thread of
 * its own and acknowledged once its call succeeded.
 *
 * <p>Exactly-once holds another way than on a stream: a call's {@code request_id} is the writer id
 * and the batch's serial, which stays the same for the batch's life (unlike its seq), so the server
 * does not apply a resent batch twice. A session knows nothing the server committed before it, so
 * it opens with a last committed seq of 0 and the logger resends everything unacknowledged; the
 * request ids make that harmless. A failed call ends the session with its error, as a broken stream
 * does: the logger then reconnects, or drops the refused batch (the oldest in flight).
 */
final class HttpLogSession implements LogSession {
  /** Says that nothing more is sent. */
  private static final Object END = new Object();

  private record Item(LogColumnsRequest request, long seq) {}

  private final Channel channel;
  private final Duration deadline;
  private final String writerId;
  private final Listener listener;
  private final BlockingQueue<Object> outbox = new LinkedBlockingQueue<>();
  private final CountDownLatch ended = new CountDownLatch(1);
  private final Thread sender;
  private volatile boolean cancelled;
  private volatile Throwable error;

  private HttpLogSession(Channel channel, Duration deadline, String writerId, Listener listener) {
    this.channel = channel;
    this.deadline = deadline;
    this.writerId = writerId;
    this.listener = listener;
    this.sender = new Thread(this::sendAll, "trackway-http-log");
    sender.setDaemon(true);
  }

  /** A session whose calls go through {@code channel}, each with {@code deadline}. */
  static HttpLogSession open(
      Channel channel, Duration deadline, String writerId, Listener listener) {
    HttpLogSession session = new HttpLogSession(channel, deadline, writerId, listener);
    session.sender.start();
    return session;
  }

  @Override
  public long awaitOpened(Duration timeout) {
    return isEnded() ? -1 : 0;
  }

  @Override
  public boolean isEnded() {
    return ended.getCount() == 0;
  }

  @Override
  public boolean awaitEnded(long millis) throws InterruptedException {
    return ended.await(millis, TimeUnit.MILLISECONDS);
  }

  @Override
  public Throwable error() {
    return error;
  }

  @Override
  public void send(PendingBatch batch) {
    LogColumnsRequest request =
        LogColumnsRequest.newBuilder()
            .setRunId(batch.runId())
            .addAllMetrics(batch.batch.getMetricsList())
            .addAllParams(batch.batch.getParamsList())
            .addAllTags(batch.batch.getTagsList())
            .setRequestId(writerId + "." + batch.serial)
            .build();
    outbox.add(new Item(request, batch.seq));
  }

  @Override
  public void halfClose() {
    outbox.add(END);
  }

  @Override
  public void cancel() {
    cancelled = true;
    outbox.add(END);
    sender.interrupt();
  }

  private void sendAll() {
    Throwable failure = null;
    try {
      Object next;
      while ((next = outbox.take()) != END && !cancelled) {
        Item item = (Item) next;
        TrackingServiceGrpc.newBlockingStub(channel)
            .withDeadlineAfter(deadline)
            .logColumns(item.request());
        listener.onAck(this, item.seq());
      }
      if (cancelled) {
        failure = cancelledError();
      }
    } catch (StatusRuntimeException e) {
      failure = cancelled ? cancelledError() : e;
    } catch (InterruptedException e) {
      failure = cancelledError();
    } finally {
      error = failure;
      try {
        listener.onEnd(this, failure);
      } finally {
        // Only now does the session count as ended, as for a stream: the logger reconnects
        // (and renumbers) after the end's consequences are recorded, never before.
        ended.countDown();
      }
    }
  }

  private static StatusRuntimeException cancelledError() {
    return Status.CANCELLED
        .withDescription("the metric logger abandoned the session")
        .asRuntimeException();
  }
}
