package dev.trackway.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.trackway.tracking.v1.Param;
import dev.trackway.tracking.v1.Run;
import dev.trackway.tracking.v1.RunTag;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.extension.ExtendWith;

/** The background logger over LogStream, against a live server. */
@ExtendWith(TrackwayServerExtension.class)
class MetricLoggerTest {
  private static final String MISSING_RUN = "0123456789abcdef0123456789abcdef";
  static TrackwayClient client;
  private static String experimentId;

  @BeforeAll
  static void connect(TrackwayServer server, TestInfo test) {
    client = OverHttp.builder(server, test).build();
    experimentId = client.createExperiment(TrackingTest.unique("logger")).getExperimentId();
  }

  /** A client of {@code server} over the transport under test. */
  TrackwayClient.Builder builder(TrackwayServer server) {
    return this instanceof OverHttp ? server.httpClient() : server.client();
  }

  @AfterAll
  static void disconnect() {
    if (client != null) {
      client.close();
    }
  }

  private static String newRun() {
    return client.createRun(experimentId).getInfo().getRunId();
  }

  /** Every step 0..n-1 exactly once, with its value and timestamp. */
  static void assertSeries(TrackwayClient reader, String runId, String key, int n) {
    List<MetricPoint> points = reader.getMetricHistory(runId, key);
    assertEquals(n, points.size(), "points of " + key);
    for (int i = 0; i < n; i++) {
      MetricPoint p = points.get(i);
      assertEquals(i, p.step());
      assertEquals(1.0 / (i + 1), p.value());
      assertEquals(1_700_000_000_000L + i, p.timestamp());
    }
  }

  @Test
  void fiftyThousandPointsLandExactlyOnce() {
    String runId = newRun();
    try (MetricLogger logger = client.newMetricLogger()) {
      for (int i = 0; i < 50_000; i++) {
        logger.logMetric(runId, "loss", 1.0 / (i + 1), i, 1_700_000_000_000L + i);
      }
      logger.flush();
      assertEquals(0, logger.pendingPoints());
      MetricLogger.Stats stats = logger.stats();
      assertEquals(50_000, stats.pointsSent());
      assertEquals(50_000, stats.pointsAcknowledged());
      assertTrue(stats.batchesSent() >= 5, "batches of at most 10,000 points: " + stats);
      assertEquals(1, stats.streamsOpened());
      assertTrue(logger.writerId().matches("[0-9a-f]{32}"), logger.writerId());
    }
    assertSeries(client, runId, "loss", 50_000);
  }

  @Test
  void paramsTagsAndManyRunsAndKeys() {
    String a = newRun();
    String b = newRun();
    MetricLogger logger =
        client.newMetricLogger(MetricLogger.Options.defaults().batchPoints(100).worker("rank-1"));
    for (int i = 0; i < 1_000; i++) {
      String run = i % 2 == 0 ? a : b;
      logger.logMetric(run, "loss", 1.0 / (i + 1), i, 1_700_000_000_000L + i);
      logger.logMetric(run, "acc", i, i);
    }
    logger.logParam(a, "alpha", "0.5");
    logger.logParam(a, "alpha", "0.5");
    logger.setTag(a, "phase", "warmup");
    logger.setTag(a, "phase", "train");
    logger.logParam(b, "layers", "3");
    logger.flush();
    logger.close();
    logger.close(); // closing twice is harmless

    assertEquals(500, client.getMetricHistory(a, "loss").size());
    assertEquals(500, client.getMetricHistory(b, "acc").size());
    assertEquals("rank-1", client.getMetricHistory(a, "acc").get(0).worker());
    Run run = client.getRun(a);
    assertEquals(
        Map.of("alpha", "0.5"),
        run.getData().getParamsList().stream()
            .collect(Collectors.toMap(Param::getKey, Param::getValue)));
    assertEquals(
        "train",
        run.getData().getTagsList().stream()
            .collect(Collectors.toMap(RunTag::getKey, RunTag::getValue))
            .get("phase"));
    assertThrows(IllegalStateException.class, () -> logger.logMetric(a, "loss", 1, 1));
    assertThrows(IllegalStateException.class, logger::flush);
  }

  @Test
  void flushSurfacesTheServerRefusalAndTheLoggerGoesOn() {
    String runId = newRun();
    try (MetricLogger logger = client.newMetricLogger()) {
      for (int i = 0; i < 100; i++) {
        logger.logMetric(MISSING_RUN, "loss", i, i);
      }
      NotFoundException refused = assertThrows(NotFoundException.class, logger::flush);
      assertEquals("RESOURCE_DOES_NOT_EXIST", refused.reason());
      assertEquals(MISSING_RUN, refused.metadata().get("run_id"));
      assertTrue(refused.getMessage().contains("100 points"), refused.getMessage());

      // The error was reported once; the logger keeps working for good runs.
      for (int i = 0; i < 10; i++) {
        logger.logMetric(runId, "loss", 1.0 / (i + 1), i, 1_700_000_000_000L + i);
      }
      logger.flush();
    }
    assertSeries(client, runId, "loss", 10);
  }

  @Test
  void aChangedParamIsRefusedWithoutLosingTheBatchesAround() {
    String runId = newRun();
    client.logParam(runId, "lr", "0.1");
    MetricLogger logger = client.newMetricLogger(MetricLogger.Options.defaults().batchPoints(10));
    for (int i = 0; i < 5; i++) {
      logger.logMetric(runId, "loss", 1.0 / (i + 1), i, 1_700_000_000_000L + i);
    }
    logger.flush();
    logger.logParam(runId, "lr", "0.2");
    FailedPreconditionException refused =
        assertThrows(FailedPreconditionException.class, logger::close);
    assertTrue(refused.getMessage().contains("1 params"), refused.getMessage());
    assertSeries(client, runId, "loss", 5);
    assertEquals("0.1", client.getRun(runId).getData().getParams(0).getValue());
  }

  @Test
  void badCallsFailAtOnce() {
    String runId = newRun();
    try (MetricLogger logger = client.newMetricLogger()) {
      assertThrows(
          InvalidArgumentException.class, () -> logger.logMetric("not-a-run", "loss", 1, 1));
      InvalidArgumentException badKey =
          assertThrows(
              InvalidArgumentException.class, () -> logger.logMetric(runId, "../up", 1, 1));
      assertEquals("key", badKey.violations().get(0).field());
      assertThrows(InvalidArgumentException.class, () -> logger.logMetric(runId, "loss", 1, 1, -5));
      assertThrows(
          InvalidArgumentException.class, () -> logger.logParam(runId, "p", "x".repeat(6001)));
      assertThrows(InvalidArgumentException.class, () -> logger.setTag(runId, "", "v"));
      assertThrows(InvalidArgumentException.class, () -> logger.setTag(runId, null, "v"));
      assertThrows(InvalidArgumentException.class, () -> logger.logParam(null, "k", "v"));
      logger.flush(); // nothing was queued
    }
    assertThrows(
        IllegalArgumentException.class,
        () -> MetricLogger.Options.defaults().worker("rank 0; drop table"));
    assertThrows(
        IllegalArgumentException.class, () -> MetricLogger.Options.defaults().batchPoints(100_001));
  }

  @Test
  void aFullQueueBlocksInsteadOfDropping() {
    String runId = newRun();
    MetricLogger.Options small =
        MetricLogger.Options.defaults()
            .queueCapacity(10)
            .batchPoints(5)
            .linger(Duration.ofMillis(1));
    try (MetricLogger logger = client.newMetricLogger(small)) {
      for (int i = 0; i < 2_000; i++) {
        logger.logMetric(runId, "loss", 1.0 / (i + 1), i, 1_700_000_000_000L + i);
      }
      logger.flush(Duration.ofSeconds(60));
      assertTrue(logger.stats().blockedCalls() > 0, logger.stats().toString());
    }
    assertSeries(client, runId, "loss", 2_000);
  }

  @Test
  void closingTheClientDrainsItsLoggers(TrackwayServer server) {
    String runId = newRun();
    TrackwayClient own = builder(server).build();
    MetricLogger logger = own.newMetricLogger();
    for (int i = 0; i < 1_000; i++) {
      logger.logMetric(runId, "loss", 1.0 / (i + 1), i, 1_700_000_000_000L + i);
    }
    own.close();
    assertSeries(client, runId, "loss", 1_000);
    assertThrows(IllegalStateException.class, own::newMetricLogger);
  }

  @Test
  void aServerCrashLosesAndDuplicatesNothing() {
    try (TrackwayServer server = TrackwayServer.start();
        TrackwayClient own = builder(server).retryFor(Duration.ofSeconds(30)).build()) {
      String exp = own.createExperiment("crash").getExperimentId();
      String runId = own.createRun(exp).getInfo().getRunId();
      MetricLogger logger = own.newMetricLogger(MetricLogger.Options.defaults().batchPoints(1_000));
      for (int i = 0; i < 20_000; i++) {
        logger.logMetric(runId, "loss", 1.0 / (i + 1), i, 1_700_000_000_000L + i);
      }
      logger.flush();
      // Points logged while the server is down wait, and go out after it comes back.
      server.kill();
      for (int i = 20_000; i < 40_000; i++) {
        logger.logMetric(runId, "loss", 1.0 / (i + 1), i, 1_700_000_000_000L + i);
      }
      List<Long> pendingWhileDown = new ArrayList<>();
      pendingWhileDown.add(logger.pendingPoints());
      assertThrows(UnavailableException.class, () -> logger.flush(Duration.ofMillis(300)));
      server.restart();
      logger.flush(Duration.ofSeconds(60));
      logger.close();
      assertTrue(pendingWhileDown.get(0) > 0);
      assertTrue(logger.stats().streamsOpened() >= 2, logger.stats().toString());
      assertSeries(own, runId, "loss", 40_000);
    }
  }

  @Test
  void resentBatchesAreNotWrittenTwice() {
    // Kill the server while batches are in flight: some were committed without their ack
    // reaching us; the new stream's last_committed_seq says which, and only the rest go again.
    try (TrackwayServer server = TrackwayServer.start();
        TrackwayClient own = builder(server).build()) {
      String exp = own.createExperiment("resend").getExperimentId();
      String runId = own.createRun(exp).getInfo().getRunId();
      MetricLogger logger =
          own.newMetricLogger(
              MetricLogger.Options.defaults().batchPoints(500).linger(Duration.ofMillis(1)));
      for (int i = 0; i < 30_000; i++) {
        logger.logMetric(runId, "loss", 1.0 / (i + 1), i, 1_700_000_000_000L + i);
        if (i == 15_000) {
          server.kill();
          server.restart();
        }
      }
      logger.flush(Duration.ofSeconds(60));
      logger.close();
      assertSeries(own, runId, "loss", 30_000);
    }
  }

  @Test
  void aSmallWindowStillDeliversEverything() {
    String runId = newRun();
    MetricLogger.Options narrow =
        MetricLogger.Options.defaults()
            .batchPoints(100)
            .windowPoints(300)
            .linger(Duration.ofMillis(5));
    try (MetricLogger logger = client.newMetricLogger(narrow)) {
      for (int i = 0; i < 5_000; i++) {
        logger.logMetric(runId, "loss", 1.0 / (i + 1), i, 1_700_000_000_000L + i);
      }
    }
    assertSeries(client, runId, "loss", 5_000);
  }

  @Test
  void closeSaysWhatItCouldNotDeliver() {
    try (TrackwayServer server = TrackwayServer.start();
        TrackwayClient own = builder(server).build()) {
      String exp = own.createExperiment("down").getExperimentId();
      String runId = own.createRun(exp).getInfo().getRunId();
      MetricLogger logger =
          own.newMetricLogger(
              MetricLogger.Options.defaults()
                  .closeTimeout(Duration.ofMillis(500))
                  .openTimeout(Duration.ofMillis(200))
                  .maxBackoff(Duration.ofMillis(100)));
      server.kill();
      for (int i = 0; i < 10; i++) {
        logger.logMetric(runId, "loss", i, i);
      }
      UnavailableException lost = assertThrows(UnavailableException.class, logger::close);
      assertTrue(
          lost.getMessage().startsWith("10 logged points were not acknowledged"),
          lost.getMessage());
    }
  }
}
