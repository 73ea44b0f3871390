package dev.trackway.client.tools;

import dev.trackway.client.MetricLogger;
import dev.trackway.client.TrackwayClient;
import dev.trackway.tracking.v1.Experiment;
import java.io.PrintStream;
import java.util.HashMap;
import java.util.Map;

/**
 * Writes the run of the cross-language test: Java logs it, other clients read it back.
 *
 * <p>{@code --target host:port --experiment NAME --points N}: creates (or reuses) the experiment
 * and a run, logs the params {@code alpha=0.5}, {@code layers=3}, {@code optimizer=adam} and the
 * metric {@code loss} with N points (step i has value {@code 1.0 / (i + 1)} and timestamp {@code
 * 1700000000000 + i}) through the MetricLogger, ends the run FINISHED and prints the run id as its
 * only line on stdout. Exits 2 on bad arguments, 1 on a failure.
 */
public final class CrossLanguageWriter {
  static final long BASE_TIMESTAMP = 1_700_000_000_000L;

  private CrossLanguageWriter() {}

  public static void main(String[] args) {
    int status = run(args, System.out, System.err);
    if (status != 0) {
      System.exit(status);
    }
  }

  /** The command: prints the run id on {@code out}; returns the exit status. */
  static int run(String[] args, PrintStream out, PrintStream err) {
    Map<String, String> flags;
    int points;
    try {
      flags = parse(args);
      points = Integer.parseInt(flags.get("--points"));
      if (points < 0) {
        throw new IllegalArgumentException("--points must not be negative");
      }
    } catch (IllegalArgumentException e) {
      err.println("error: " + e.getMessage());
      err.println("usage: CrossLanguageWriter --target host:port --experiment NAME --points N");
      return 2;
    }
    try {
      out.println(write(flags.get("--target"), flags.get("--experiment"), points));
      return 0;
    } catch (RuntimeException e) {
      err.println("error: " + e.getMessage());
      return 1;
    }
  }

  /** Writes the run and returns its id. */
  public static String write(String target, String experimentName, int points) {
    try (TrackwayClient client = TrackwayClient.builder().target(target).build()) {
      Experiment experiment = client.getOrCreateExperiment(experimentName);
      String runId =
          client.createRun(experiment.getExperimentId(), "java-writer").getInfo().getRunId();
      try (MetricLogger logger = client.newMetricLogger()) {
        logger.logParam(runId, "alpha", "0.5");
        logger.logParam(runId, "layers", "3");
        logger.logParam(runId, "optimizer", "adam");
        for (int i = 0; i < points; i++) {
          logger.logMetric(runId, "loss", 1.0 / (i + 1), i, BASE_TIMESTAMP + i);
        }
        logger.flush();
      }
      client.endRun(runId);
      return runId;
    }
  }

  private static Map<String, String> parse(String[] args) {
    Map<String, String> flags = new HashMap<>();
    for (int i = 0; i < args.length; i++) {
      String name = args[i];
      if (!name.equals("--target") && !name.equals("--experiment") && !name.equals("--points")) {
        throw new IllegalArgumentException("unknown argument " + name);
      }
      if (i + 1 >= args.length) {
        throw new IllegalArgumentException(name + " needs a value");
      }
      flags.put(name, args[++i]);
    }
    for (String required : new String[] {"--target", "--experiment", "--points"}) {
      if (!flags.containsKey(required)) {
        throw new IllegalArgumentException(required + " is required");
      }
    }
    return flags;
  }
}
