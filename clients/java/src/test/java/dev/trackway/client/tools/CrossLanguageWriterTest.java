package dev.trackway.client.tools;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.trackway.client.MetricPoint;
import dev.trackway.client.TrackwayClient;
import dev.trackway.client.TrackwayServer;
import dev.trackway.client.TrackwayServerExtension;
import dev.trackway.tracking.v1.Param;
import dev.trackway.tracking.v1.Run;
import dev.trackway.tracking.v1.RunStatus;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** The writer of the cross-language test, run as its main would be. */
@ExtendWith(TrackwayServerExtension.class)
class CrossLanguageWriterTest {
  private static String[] run(String... args) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    int status =
        CrossLanguageWriter.run(
            args,
            new PrintStream(out, true, StandardCharsets.UTF_8),
            new PrintStream(err, true, StandardCharsets.UTF_8));
    return new String[] {
      String.valueOf(status),
      out.toString(StandardCharsets.UTF_8),
      err.toString(StandardCharsets.UTF_8)
    };
  }

  @Test
  void writesTheAgreedRun(TrackwayServer server) {
    String experiment = "cross-" + UUID.randomUUID();
    String[] result =
        run("--target", server.target(), "--experiment", experiment, "--points", "10000");
    assertEquals("0", result[0], result[2]);
    List<String> lines = result[1].lines().toList();
    assertEquals(1, lines.size(), "only the run id on stdout: " + result[1]);
    String runId = lines.get(0);
    assertTrue(runId.matches("[0-9a-f]{32}"), runId);

    try (TrackwayClient client = TrackwayClient.builder().target(server.target()).build()) {
      Run written = client.getRun(runId);
      assertEquals(RunStatus.RUN_STATUS_FINISHED, written.getInfo().getStatus());
      assertEquals(experiment, client.getExperiment(written.getInfo().getExperimentId()).getName());
      assertEquals(
          Map.of("alpha", "0.5", "layers", "3", "optimizer", "adam"),
          written.getData().getParamsList().stream()
              .collect(Collectors.toMap(Param::getKey, Param::getValue)));
      List<MetricPoint> loss = client.getMetricHistory(runId, "loss");
      assertEquals(10_000, loss.size());
      for (int i = 0; i < loss.size(); i++) {
        assertEquals(new MetricPoint(i, 1_700_000_000_000L + i, 1.0 / (i + 1), ""), loss.get(i));
      }
    }
    // A second writer reuses the experiment and makes a new run.
    String[] again = run("--target", server.target(), "--experiment", experiment, "--points", "3");
    assertEquals("0", again[0], again[2]);
    assertNotEquals(runId, again[1].strip());
  }

  @Test
  void badArgumentsExitTwo() {
    assertEquals("2", run("--target", "h:1")[0]);
    assertEquals("2", run("--target", "h:1", "--experiment", "e", "--points", "many")[0]);
    assertEquals("2", run("--bogus", "x")[0]);
  }
}
