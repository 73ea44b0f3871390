package dev.trackway.client;

import dev.trackway.tracking.v1.LogStreamOpen;
import dev.trackway.tracking.v1.LogStreamRequest;
import dev.trackway.tracking.v1.LogStreamResponse;
import dev.trackway.tracking.v1.TrackingServiceGrpc;
import io.grpc.Channel;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * One LogStream call: the {@code open} handshake, batches out without waiting, acknowledgements in.
 * gRPC's threads deliver the acks and the end of the call to the {@link Listener}.
 */
final class LogStreamSession
    implements LogSession, ClientResponseObserver<LogStreamRequest, LogStreamResponse> {
  private final Listener listener;
  private final CountDownLatch opened = new CountDownLatch(1);
  private final CountDownLatch ended = new CountDownLatch(1);
  private volatile long lastCommitted = -1;
  private volatile Throwable error;
  private ClientCallStreamObserver<LogStreamRequest> requests;

  private LogStreamSession(Listener listener) {
    this.listener = listener;
  }

  /** Starts a call and sends {@code open}; the answer arrives later, see {@link #awaitOpened}. */
  static LogStreamSession open(Channel channel, String writerId, Listener listener) {
    LogStreamSession session = new LogStreamSession(listener);
    TrackingServiceGrpc.newStub(channel).logStream(session);
    session.sendRequest(
        LogStreamRequest.newBuilder()
            .setOpen(LogStreamOpen.newBuilder().setWriterId(writerId))
            .build());
    return session;
  }

  @Override
  public void beforeStart(ClientCallStreamObserver<LogStreamRequest> requestStream) {
    this.requests = requestStream;
  }

  @Override
  public void onNext(LogStreamResponse reply) {
    if (reply.hasOpened()) {
      lastCommitted = reply.getOpened().getLastCommittedSeq();
      opened.countDown();
    } else if (reply.hasAck()) {
      listener.onAck(this, reply.getAck().getSeq());
    }
  }

  @Override
  public void onError(Throwable t) {
    end(t);
  }

  @Override
  public void onCompleted() {
    end(null);
  }

  private void end(Throwable failure) {
    error = failure;
    try {
      listener.onEnd(this, failure);
    } finally {
      // Only now does the session count as ended: the logger reconnects (and renumbers) after
      // the end's consequences are recorded, never before.
      ended.countDown();
      opened.countDown();
    }
  }

  /**
   * The server's last committed seq for the writer, or -1 when the call ended or did not open
   * within {@code timeout}.
   */
  @Override
  public long awaitOpened(Duration timeout) throws InterruptedException {
    opened.await(timeout.toNanos(), TimeUnit.NANOSECONDS);
    return isEnded() ? -1 : lastCommitted;
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
    sendRequest(
        LogStreamRequest.newBuilder().setBatch(batch.batch.toBuilder().setSeq(batch.seq)).build());
  }

  private synchronized void sendRequest(LogStreamRequest request) {
    try {
      requests.onNext(request);
    } catch (IllegalStateException closed) {
      // The call was cancelled or half-closed: it ends on its own, and the logger resends.
    }
  }

  /** Half-closes: the server acknowledges what it got, then ends the call. */
  @Override
  public synchronized void halfClose() {
    try {
      requests.onCompleted();
    } catch (IllegalStateException closed) {
      // Already closed.
    }
  }

  @Override
  public synchronized void cancel() {
    requests.cancel("the metric logger abandoned the stream", null);
  }
}
