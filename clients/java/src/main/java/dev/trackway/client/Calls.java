package dev.trackway.client;

import dev.trackway.artifacts.v1.ArtifactServiceGrpc;
import dev.trackway.registry.v1.ModelRegistryServiceGrpc;
import dev.trackway.tracking.v1.TrackingServiceGrpc;
import io.grpc.Channel;
import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import java.time.Duration;
import java.util.UUID;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * What every part of the client shares: the channel, stubs with the per-call deadline, and the
 * retry loop. Thread-safe, as gRPC channels and stubs are.
 */
final class Calls {
  private static final long MAX_PAUSE_NANOS = TimeUnit.SECONDS.toNanos(5);

  final ManagedChannel managed;

  /** The channel with the client's interceptors (bearer token, user interceptors). */
  final Channel channel;

  final Target target;
  final Duration deadline;
  final Duration retryFor;

  Calls(
      ManagedChannel managed,
      Channel channel,
      Target target,
      Duration deadline,
      Duration retryFor) {
    this.managed = managed;
    this.channel = channel;
    this.target = target;
    this.deadline = deadline;
    this.retryFor = retryFor;
  }

  /** A fresh idempotency key: every write carries one, so a retry is never applied twice. */
  static String requestId() {
    return UUID.randomUUID().toString().replace("-", "");
  }

  // A stub per attempt: withDeadlineAfter fixes an absolute deadline when it is called.

  TrackingServiceGrpc.TrackingServiceBlockingStub tracking() {
    return TrackingServiceGrpc.newBlockingStub(channel).withDeadlineAfter(deadline);
  }

  ModelRegistryServiceGrpc.ModelRegistryServiceBlockingStub registry() {
    return ModelRegistryServiceGrpc.newBlockingStub(channel).withDeadlineAfter(deadline);
  }

  ArtifactServiceGrpc.ArtifactServiceBlockingStub artifactsBlocking() {
    return ArtifactServiceGrpc.newBlockingStub(channel).withDeadlineAfter(deadline);
  }

  /**
   * Runs one attempt after another until one succeeds, a non-retryable error comes back, or {@code
   * retryFor} has passed; failures leave as typed exceptions. Only for attempts that are safe to
   * repeat: reads, and writes whose request carries a request_id.
   */
  <T> T call(Supplier<T> attempt) {
    long giveUpAt = System.nanoTime() + retryFor.toNanos();
    long pause = TimeUnit.MILLISECONDS.toNanos(100);
    while (true) {
      try {
        return attempt.get();
      } catch (StatusRuntimeException e) {
        long jittered = (long) (pause * (0.5 + ThreadLocalRandom.current().nextDouble()));
        if (!Errors.retryable(e.getStatus().getCode()) || System.nanoTime() + jittered > giveUpAt) {
          throw Errors.from(e, target.toString());
        }
        sleep(jittered, e);
        pause = Math.min(pause * 2, MAX_PAUSE_NANOS);
        // The channel's own reconnect backoff grows to minutes; our loop decides the pace.
        managed.resetConnectBackoff();
      }
    }
  }

  /** {@link #call(Supplier)} for calls without a result. */
  void run(Runnable attempt) {
    call(
        () -> {
          attempt.run();
          return null;
        });
  }

  private void sleep(long nanos, StatusRuntimeException cause) {
    try {
      TimeUnit.NANOSECONDS.sleep(nanos);
    } catch (InterruptedException interrupted) {
      Thread.currentThread().interrupt();
      throw Errors.from(cause, target.toString());
    }
  }
}
