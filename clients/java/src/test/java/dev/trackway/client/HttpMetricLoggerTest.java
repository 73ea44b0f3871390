package dev.trackway.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import org.junit.jupiter.api.Test;

/**
 * {@link MetricLoggerTest} over the HTTP/JSON API, where each batch is one LogColumns call whose
 * request_id makes a resent batch harmless; the crash and resend tests run on their own servers
 * over HTTP too.
 */
class HttpMetricLoggerTest extends MetricLoggerTest implements OverHttp {
  @Test
  void aBatchCommittedWithoutItsAnswerIsNotWrittenTwice(TrackwayServer server) throws Exception {
    String runId =
        client
            .createRun(client.createExperiment(TrackingTest.unique("cut")).getExperimentId())
            .getInfo()
            .getRunId();
    try (CuttingProxy proxy = new CuttingProxy(server.httpPort());
        TrackwayClient own = TrackwayClient.builder().target(proxy.target()).build()) {
      MetricLogger logger =
          own.newMetricLogger(
              MetricLogger.Options.defaults().batchPoints(100).linger(Duration.ofMillis(1)));
      for (int i = 0; i < 300; i++) {
        logger.logMetric(runId, "loss", 1.0 / (i + 1), i, 1_700_000_000_000L + i);
      }
      logger.flush(Duration.ofSeconds(30));
      // The server commits the next batch, but its answer is lost: the logger sends it again,
      // with the same request_id.
      proxy.cutNextAnswerTo(":logColumns");
      for (int i = 300; i < 600; i++) {
        logger.logMetric(runId, "loss", 1.0 / (i + 1), i, 1_700_000_000_000L + i);
      }
      logger.flush(Duration.ofSeconds(30));
      logger.close();
      assertEquals(1, proxy.cuts());
      assertTrue(logger.stats().batchesResent() >= 1, logger.stats().toString());
      assertTrue(logger.stats().streamsOpened() >= 2, logger.stats().toString());
    }
    assertSeries(client, runId, "loss", 600);
  }
}
