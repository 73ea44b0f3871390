import dev.trackway.client.PermissionDeniedException;
import dev.trackway.client.TrackwayClient;
import dev.trackway.client.UnauthenticatedException;
import dev.trackway.tracking.v1.Experiment;
import java.time.Duration;

/**
 * Writes a run through the Java client with a bearer token, for tests/auth/test_clients.py.
 * Usage: BearerProbe TARGET EXPERIMENT [TOKEN]. Prints "run <id>", "unauthenticated" or
 * "denied".
 */
public final class BearerProbe {
  private BearerProbe() {}

  public static void main(String[] args) {
    TrackwayClient.Builder builder =
        TrackwayClient.builder().target(args[0]).retryFor(Duration.ZERO);
    if (args.length > 2) {
      builder = builder.token(args[2]);
    }
    try (TrackwayClient client = builder.build()) {
      Experiment experiment = client.getOrCreateExperiment(args[1]);
      String runId = client.createRun(experiment.getExperimentId(), "java").getInfo().getRunId();
      System.out.println("run " + runId);
    } catch (UnauthenticatedException e) {
      System.out.println("unauthenticated");
    } catch (PermissionDeniedException e) {
      System.out.println("denied");
    }
  }
}
