package dev.trackway.client;

import io.grpc.Status;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Pattern;

/**
 * Sends metric points, params and tags of any number of runs in the background, batched onto one
 * LogStream, with exactly-once delivery across reconnects.
 *
 * <pre>{@code
 * try (MetricLogger logger = client.newMetricLogger()) {
 *   for (int step = 0; step < 100_000; step++) {
 *     logger.logMetric(runId, "loss", loss(step), step);   // queued, returns at once
 *   }
 *   logger.flush();   // waits until the server committed all of it; throws its refusals
 * }
 * }</pre>
 *
 * <p>Threads and buffers: callers append to a bounded queue and return; when it is full they block
 * until the logger has made room, so nothing is dropped silently. One sender thread takes up to
 * {@code batchPoints} points, or whatever arrived within {@code linger} of the first, builds
 * columnar batches (one run each) and sends them without waiting for acks, up to {@code
 * windowPoints} points unacknowledged. Batches are numbered per writer (a fresh UUID per logger).
 *
 * <p>Over an http(s) tracking URI, where LogStream has no form, each batch is one LogColumns call
 * instead, sent in order, with a request_id made of the writer id and the batch's number, so that a
 * resent batch is not applied twice either (see {@link HttpLogSession}).
 *
 * <p>Failures: a broken stream makes the sender reconnect with backoff and resend whatever the
 * server's {@code last_committed_seq} says it does not hold; the server's per-writer sequence check
 * makes that exactly-once. A batch the server refuses (a missing or deleted run, a param that would
 * change) is dropped and its error kept: {@link #flush()} and {@link #close()} throw it as its own
 * {@link TrackwayException} class. Errors are never swallowed.
 *
 * <p>Thread-safe. Calls after {@link #close()} throw IllegalStateException.
 */
public final class MetricLogger implements AutoCloseable {
  /** Codes after which the stream is opened again and the same batches resent. */
  private static final Set<Status.Code> RECONNECT =
      EnumSet.of(
          Status.Code.UNAVAILABLE,
          Status.Code.DEADLINE_EXCEEDED,
          Status.Code.RESOURCE_EXHAUSTED,
          Status.Code.ABORTED,
          Status.Code.CANCELLED);

  /**
   * Codes that may come from a bug on either side: retried a few times, then the oldest batch is
   * dropped with the error, so that one poison batch cannot stall the logger for ever.
   */
  private static final Set<Status.Code> SUSPECT =
      EnumSet.of(Status.Code.INTERNAL, Status.Code.UNKNOWN);

  private static final int SUSPECT_ATTEMPTS = 5;
  private static final Pattern WORKER = Pattern.compile("[A-Za-z0-9_\\-.:]{1,64}");
  private static final long MIN_BACKOFF_MILLIS = 50;
  private static final long IDLE_POLL_MILLIS = 500;

  /** Settings of a logger; {@link #defaults()} and its withers. */
  public record Options(
      int batchPoints,
      Duration linger,
      int queueCapacity,
      long windowPoints,
      Duration openTimeout,
      Duration maxBackoff,
      Duration closeTimeout,
      String worker) {
    public Options {
      if (batchPoints < 1 || batchPoints > Batches.MAX_POINTS) {
        throw new IllegalArgumentException("batchPoints must be between 1 and 100,000");
      }
      if (queueCapacity < 1 || windowPoints < 1) {
        throw new IllegalArgumentException("queueCapacity and windowPoints must be positive");
      }
      Objects.requireNonNull(linger);
      Objects.requireNonNull(openTimeout);
      Objects.requireNonNull(maxBackoff);
      Objects.requireNonNull(closeTimeout);
      worker = worker == null ? "" : worker;
      if (!worker.isEmpty() && !WORKER.matcher(worker).matches()) {
        throw new IllegalArgumentException(
            "worker '" + worker + "': at most 64 letters, digits and _ - . :");
      }
    }

    /**
     * 10,000 points a batch, 100 ms linger, a queue of 1,000,000 calls, 200,000 points in flight,
     * 30 s to open a stream, 2 s longest pause between reconnects, 30 s for close() to drain, and
     * the worker label from TRACKWAY_WORKER, else RANK (as torchrun sets it).
     */
    public static Options defaults() {
      String worker = System.getenv("TRACKWAY_WORKER");
      if (worker == null || worker.isEmpty()) {
        worker = System.getenv("RANK");
      }
      return new Options(
          10_000,
          Duration.ofMillis(100),
          1_000_000,
          200_000,
          Duration.ofSeconds(30),
          Duration.ofSeconds(2),
          Duration.ofSeconds(30),
          worker);
    }

    public Options batchPoints(int points) {
      return new Options(
          points,
          linger,
          queueCapacity,
          windowPoints,
          openTimeout,
          maxBackoff,
          closeTimeout,
          worker);
    }

    public Options linger(Duration wait) {
      return new Options(
          batchPoints,
          wait,
          queueCapacity,
          windowPoints,
          openTimeout,
          maxBackoff,
          closeTimeout,
          worker);
    }

    public Options queueCapacity(int calls) {
      return new Options(
          batchPoints, linger, calls, windowPoints, openTimeout, maxBackoff, closeTimeout, worker);
    }

    public Options windowPoints(long points) {
      return new Options(
          batchPoints,
          linger,
          queueCapacity,
          points,
          openTimeout,
          maxBackoff,
          closeTimeout,
          worker);
    }

    public Options openTimeout(Duration timeout) {
      return new Options(
          batchPoints,
          linger,
          queueCapacity,
          windowPoints,
          timeout,
          maxBackoff,
          closeTimeout,
          worker);
    }

    public Options maxBackoff(Duration pause) {
      return new Options(
          batchPoints,
          linger,
          queueCapacity,
          windowPoints,
          openTimeout,
          pause,
          closeTimeout,
          worker);
    }

    public Options closeTimeout(Duration timeout) {
      return new Options(
          batchPoints,
          linger,
          queueCapacity,
          windowPoints,
          openTimeout,
          maxBackoff,
          timeout,
          worker);
    }

    /** The label of this distributed worker that every point carries; empty for none. */
    public Options worker(String label) {
      return new Options(
          batchPoints,
          linger,
          queueCapacity,
          windowPoints,
          openTimeout,
          maxBackoff,
          closeTimeout,
          label);
    }
  }

  /** Counters for monitoring and tests. */
  public record Stats(
      long batchesSent,
      long pointsSent,
      long pointsAcknowledged,
      long streamsOpened,
      long batchesResent,
      long blockedCalls) {}

  private final Calls calls;
  private final Options options;
  private final String writerId = UUID.randomUUID().toString().replace("-", "");
  private final BlockingQueue<Object> queue;
  private final Inflight inflight = new Inflight();
  private final Refusals refusals = new Refusals();
  private final Thread sender;
  private final Runnable onClose;
  private final Set<String> checkedRuns = ConcurrentHashMap.newKeySet();
  private final Set<String> checkedKeys = ConcurrentHashMap.newKeySet();
  private volatile LogSession session;

  /** Whether the current session has had an ack: only then does the reconnect backoff reset. */
  private volatile boolean progressed;

  /** The broken session after which the sender last paused, so that it pauses once for it. */
  private LogSession pausedAfter;

  private volatile boolean closed;
  private volatile boolean stopped;

  private final AtomicLong batchesSent = new AtomicLong();
  private final AtomicLong pointsSent = new AtomicLong();
  private final AtomicLong streamsOpened = new AtomicLong();
  private final AtomicLong batchesResent = new AtomicLong();
  private final AtomicLong blockedCalls = new AtomicLong();
  private final AtomicLong loggedPoints = new AtomicLong();
  private final AtomicLong refusedPoints = new AtomicLong();

  MetricLogger(Calls calls, Options options, Runnable onClose) {
    this.calls = calls;
    this.options = options;
    this.onClose = onClose;
    this.queue = new LinkedBlockingQueue<>(options.queueCapacity());
    this.sender = new Thread(this::run, "trackway-metric-logger");
    sender.setDaemon(true);
    sender.start();
  }

  /** The id under which the server numbers this logger's batches. */
  public String writerId() {
    return writerId;
  }

  // The calls

  /** Queues one point stamped now. */
  public void logMetric(String runId, String key, double value, long step) {
    logMetric(runId, key, value, step, System.currentTimeMillis());
  }

  /** Queues one point with an explicit timestamp in epoch ms. */
  public void logMetric(String runId, String key, double value, long step, long timestamp) {
    check(runId, key);
    if (timestamp < 0) {
      throw Errors.of(Status.Code.INVALID_ARGUMENT, "timestamp of '" + key + "' is negative");
    }
    // Counted first, so that an ack can never make pendingPoints() negative.
    loggedPoints.incrementAndGet();
    try {
      enqueue(new Batches.Point(runId, key, value, step, timestamp));
    } catch (RuntimeException e) {
      loggedPoints.decrementAndGet();
      throw e;
    }
  }

  /** Queues a param; params are write-once, so a different value is refused by the server. */
  public void logParam(String runId, String key, String value) {
    check(runId, key);
    Checks.value(key, value, Checks.MAX_PARAM_VALUE_LENGTH);
    enqueue(new Batches.Entry(true, runId, key, value));
  }

  /** Queues a tag, replacing any value it had. */
  public void setTag(String runId, String key, String value) {
    check(runId, key);
    Checks.value(key, value, Checks.MAX_TAG_VALUE_LENGTH);
    enqueue(new Batches.Entry(false, runId, key, value));
  }

  /**
   * Sends everything queued so far and waits until the server acknowledged it; throws the errors of
   * batches the server refused since the last flush.
   */
  public void flush() {
    flush(null);
  }

  /**
   * As {@link #flush()}, but throws UnavailableException when {@code timeout} passes first (the
   * points stay queued and are sent when the server answers).
   */
  public void flush(Duration timeout) {
    if (closed) {
      throw new IllegalStateException("the metric logger is closed");
    }
    FlushMarker marker = new FlushMarker();
    enqueue(marker);
    await(marker, timeout);
    refusals.throwPending();
  }

  /** Points logged but neither acknowledged nor refused yet: queued, batched or in flight. */
  public long pendingPoints() {
    return loggedPoints.get() - inflight.ackedPoints() - refusedPoints.get();
  }

  public Stats stats() {
    return new Stats(
        batchesSent.get(),
        pointsSent.get(),
        inflight.ackedPoints(),
        streamsOpened.get(),
        batchesResent.get(),
        blockedCalls.get());
  }

  /**
   * Drains (for at most the options' {@code closeTimeout}), then stops the sender. Throws the
   * refused batches' errors, and UnavailableException when points were left unacknowledged.
   */
  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    onClose.run();
    FlushMarker marker = new FlushMarker();
    boolean drained;
    try {
      if (!queue.offer(marker, options.closeTimeout().toMillis(), TimeUnit.MILLISECONDS)) {
        drained = false;
      } else {
        drained = marker.done.await(options.closeTimeout().toMillis(), TimeUnit.MILLISECONDS);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      drained = false;
    }
    long left = pendingPoints();
    stopped = true;
    sender.interrupt();
    try {
      sender.join(5_000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    refusals.throwPending();
    if (!drained && left > 0) {
      throw Errors.of(
          Status.Code.UNAVAILABLE,
          left
              + " logged points were not acknowledged by "
              + calls.target
              + " within "
              + options.closeTimeout().toMillis()
              + " ms of close() and are lost");
    }
  }

  /** The run id and key rules, checked once per distinct value: log calls stay cheap. */
  private void check(String runId, String key) {
    if (runId == null || !checkedRuns.contains(runId)) {
      Checks.runId(runId);
      checkedRuns.add(runId);
    }
    if (key == null || !checkedKeys.contains(key)) {
      Checks.key(key);
      checkedKeys.add(key);
    }
  }

  private void enqueue(Object item) {
    if (closed) {
      throw new IllegalStateException("the metric logger is closed");
    }
    if (queue.offer(item)) {
      return;
    }
    // The documented overflow policy: wait until the sender has made room.
    blockedCalls.incrementAndGet();
    try {
      while (!queue.offer(item, 100, TimeUnit.MILLISECONDS)) {
        if (!sender.isAlive()) {
          throw Errors.of(
              Status.Code.UNAVAILABLE, "the metric logger has stopped; nothing more is sent");
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw Errors.of(
          Status.Code.CANCELLED, "interrupted while the metric logger's queue was full");
    }
  }

  private void await(FlushMarker marker, Duration timeout) {
    long giveUpAt = timeout == null ? Long.MAX_VALUE : System.nanoTime() + timeout.toNanos();
    try {
      while (!marker.done.await(200, TimeUnit.MILLISECONDS)) {
        if (!sender.isAlive()) {
          throw Errors.of(
              Status.Code.UNAVAILABLE,
              "the metric logger has stopped; " + pendingPoints() + " points were not sent");
        }
        if (System.nanoTime() >= giveUpAt) {
          throw Errors.of(
              Status.Code.UNAVAILABLE,
              "flush did not finish within "
                  + timeout.toMillis()
                  + " ms: "
                  + pendingPoints()
                  + " points are not yet acknowledged by "
                  + calls.target
                  + "; they stay queued and are sent when it answers");
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw Errors.of(Status.Code.CANCELLED, "interrupted while flushing");
    }
  }

  // The sender thread

  private void run() {
    List<Object> taken = new ArrayList<>();
    long backoff = MIN_BACKOFF_MILLIS;
    try {
      while (!stopped) {
        if (taken.isEmpty()) {
          long wait = inflight.isEmpty() ? IDLE_POLL_MILLIS : options.linger().toMillis();
          Object first = queue.poll(wait, TimeUnit.MILLISECONDS);
          if (first != null) {
            taken.add(first);
          }
        }
        if (!taken.isEmpty() && taken.stream().allMatch(item -> item instanceof FlushMarker)) {
          // Nothing to send: a flush needs only what is in flight to settle.
          taken.forEach(marker -> inflight.mark((FlushMarker) marker));
          taken.clear();
        }
        if (taken.isEmpty() && inflight.isEmpty()) {
          continue;
        }
        LogSession current = session;
        if (current == null || current.isEnded()) {
          if (progressed) {
            backoff = MIN_BACKOFF_MILLIS;
          }
          // An HTTP session opens without a round trip, so a server that is down shows only as
          // a session that broke before any ack: pause then too, or the sender would spin.
          boolean fruitless = brokeFruitlessly(current);
          // Reset before the open, so that no ack of the new session can come before it.
          progressed = false;
          if (fruitless || !open(taken)) {
            pausedAfter = current;
            long pause = Math.min(backoff, options.maxBackoff().toMillis());
            Thread.sleep((long) (pause * (0.5 + ThreadLocalRandom.current().nextDouble())));
            backoff = pause * 2;
            continue;
          }
          current = session;
        }
        if (taken.isEmpty() || !inflight.awaitRoom(options.windowPoints(), 100)) {
          continue;
        }
        gather(taken);
        send(current, taken);
        taken.clear();
      }
    } catch (InterruptedException e) {
      // close() stops the thread.
    } finally {
      shutdown();
    }
  }

  private boolean brokeFruitlessly(LogSession ended) {
    return ended != null
        && ended != pausedAfter
        && !progressed
        && ended.error() != null
        && RECONNECT.contains(Status.fromThrowable(ended.error()).getCode());
  }

  /** Adds to {@code taken} until a batch's worth of points, a flush, or the linger passes. */
  private void gather(List<Object> taken) throws InterruptedException {
    int points = 0;
    for (Object item : taken) {
      if (item instanceof FlushMarker) {
        return;
      }
      points += item instanceof Batches.Point ? 1 : 0;
    }
    long giveUpAt = System.nanoTime() + options.linger().toNanos();
    while (points < options.batchPoints()) {
      Object next = queue.poll();
      if (next == null) {
        long left = giveUpAt - System.nanoTime();
        next = left > 0 ? queue.poll(left, TimeUnit.NANOSECONDS) : null;
        if (next == null) {
          return;
        }
      }
      taken.add(next);
      if (next instanceof FlushMarker) {
        return;
      }
      points += next instanceof Batches.Point ? 1 : 0;
    }
  }

  private void send(LogSession current, List<Object> taken) {
    Batches.build(
        taken,
        options.batchPoints(),
        options.worker(),
        batch -> {
          inflight.add(batch);
          current.send(batch);
          batchesSent.incrementAndGet();
          pointsSent.addAndGet(batch.points);
        },
        inflight::mark);
  }

  /**
   * Opens a stream and resends what the server does not hold; false to retry later. When the server
   * refuses streams outright (not a passing outage), everything pending fails with its error rather
   * than waiting for ever.
   */
  private boolean open(List<Object> taken) throws InterruptedException {
    // The channel's own reconnect backoff grows to minutes; our loop decides the pace.
    calls.managed.resetConnectBackoff();
    LogSession opening =
        calls.target.http()
            ? HttpLogSession.open(calls.channel, calls.deadline, writerId, new Listener())
            : LogStreamSession.open(calls.channel, writerId, new Listener());
    long last = opening.awaitOpened(options.openTimeout());
    if (last < 0) {
      if (!opening.isEnded()) {
        opening.cancel();
      } else if (opening.error() != null && !retryableOpen(opening.error())) {
        failEverything(Errors.from(opening.error(), calls.target.toString()), taken);
      }
      return false;
    }
    // Under the inflight lock, so that acks of the resent batches wait for the new session.
    synchronized (inflight) {
      List<PendingBatch> resend = inflight.reconcile(last);
      session = opening;
      for (PendingBatch batch : resend) {
        opening.send(batch);
      }
      batchesResent.addAndGet(resend.size());
    }
    streamsOpened.incrementAndGet();
    return true;
  }

  private void refuse(PendingBatch batch, TrackwayException error) {
    if (batch != null) {
      refusedPoints.addAndGet(batch.points);
    }
    refusals.record(batch, error);
  }

  private static boolean retryableOpen(Throwable error) {
    Status.Code code = Status.fromThrowable(error).getCode();
    return RECONNECT.contains(code) || SUSPECT.contains(code);
  }

  private void failEverything(TrackwayException error, List<Object> taken) {
    queue.drainTo(taken);
    inflight.failAll(batch -> refuse(batch, error));
    Batches.build(
        taken,
        options.batchPoints(),
        options.worker(),
        batch -> refuse(batch, error),
        marker -> marker.done.countDown());
    taken.clear();
  }

  /** Half-closes the stream so that the server acknowledges what it got, then lets go. */
  private void shutdown() {
    LogSession current = session;
    if (current != null && !current.isEnded()) {
      current.halfClose();
      try {
        if (!current.awaitEnded(2_000)) {
          current.cancel();
        }
      } catch (InterruptedException e) {
        current.cancel();
      }
    }
    inflight.releaseMarkers();
  }

  /** Runs on gRPC's threads, or the HTTP session's. */
  private final class Listener implements LogSession.Listener {
    @Override
    public void onAck(LogSession from, long seq) {
      if (from == session) {
        inflight.ack(seq);
        progressed = true;
      }
    }

    @Override
    public void onEnd(LogSession from, Throwable error) {
      if (from != session || error == null) {
        return;
      }
      Status.Code code = Status.fromThrowable(error).getCode();
      if (RECONNECT.contains(code)) {
        return;
      }
      TrackwayException typed = Errors.from(error, calls.target.toString());
      if (SUSPECT.contains(code)) {
        PendingBatch head = inflight.head();
        if (head != null && ++head.suspectEnds >= SUSPECT_ATTEMPTS) {
          inflight.drop(head.seq, batch -> refuse(batch, typed));
        }
        return;
      }
      if (typed.metadata().containsKey("last_committed_seq")) {
        return; // A sequence gap: the next open renumbers from what the server holds.
      }
      String seq = typed.metadata().getOrDefault("seq", "");
      Long refused = seq.matches("\\d+") ? Long.valueOf(seq) : null;
      inflight.drop(refused, batch -> refuse(batch, typed));
    }
  }
}
