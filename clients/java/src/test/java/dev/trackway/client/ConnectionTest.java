package dev.trackway.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
import io.grpc.ForwardingClientCall.SimpleForwardingClientCall;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/** Targets, TLS, bearer tokens, deadlines and retries. */
@ExtendWith(TrackwayServerExtension.class)
class ConnectionTest {
  @TempDir Path tmp;

  @Test
  void targetsParseLikeThePythonSdk() {
    assertEquals(new Target("example.com", 50051, false), Target.parse("example.com"));
    assertEquals(new Target("h", 7, false), Target.parse("grpc://h:7"));
    assertEquals(new Target("h", 443, true), Target.parse("grpcs://h:443/"));
    assertEquals(new Target("::1", 9, false), Target.parse("[::1]:9"));
    assertEquals("[::1]:9", Target.parse("grpc://[::1]:9").address());
    assertEquals("grpcs://h:1", Target.parse("GRPCS://h:1").toString());
    for (String bad : List.of("", "ftp://h", "grpc://h:1/path", "grpc://u@h:1", "grpc://h:1?a=b")) {
      InvalidArgumentException refused =
          assertThrows(InvalidArgumentException.class, () -> Target.parse(bad), bad);
      assertTrue(refused.getMessage().startsWith("tracking URI"), refused.getMessage());
    }
  }

  @Test
  void theDefaultTargetComesFromTheEnvironment() {
    String configured = System.getenv(Target.ENV);
    Target expected =
        configured == null || configured.isBlank()
            ? new Target("127.0.0.1", 50051, false)
            : Target.parse(configured);
    try (TrackwayClient client = TrackwayClient.builder().build()) {
      assertEquals(expected, client.target());
    }
  }

  @Test
  void theBearerTokenGoesWithEveryCall(TrackwayServer server) {
    List<String> seen = new CopyOnWriteArrayList<>();
    ClientInterceptor recorder =
        new ClientInterceptor() {
          @Override
          public <Q, R> ClientCall<Q, R> interceptCall(
              MethodDescriptor<Q, R> method, CallOptions options, Channel next) {
            return new SimpleForwardingClientCall<>(next.newCall(method, options)) {
              @Override
              public void start(Listener<R> listener, Metadata headers) {
                seen.add(method.getBareMethodName() + " " + headers.get(BearerToken.AUTHORIZATION));
                super.start(listener, headers);
              }
            };
          }
        };
    try (TrackwayClient client = server.client().token("s3cret").intercept(recorder).build()) {
      String exp = client.createExperiment(TrackingTest.unique("token")).getExperimentId();
      String run = client.createRun(exp).getInfo().getRunId();
      try (MetricLogger logger = client.newMetricLogger()) {
        logger.logMetric(run, "loss", 1, 1);
      }
    }
    assertEquals(
        List.of(
            "CreateExperiment Bearer s3cret", "CreateRun Bearer s3cret", "LogStream Bearer s3cret"),
        seen);
  }

  @Test
  void tlsWithTrustedCertificates(TrackwayServer server) throws Exception {
    try (TlsProxy proxy = new TlsProxy(tmp, server.port())) {
      try (TrackwayClient client =
          TrackwayClient.builder()
              .target("grpcs://127.0.0.1:" + proxy.port())
              .trustCertificates(proxy.certificate())
              .build()) {
        assertTrue(client.target().tls());
        String name = TrackingTest.unique("tls");
        assertEquals(name, client.createExperiment(name).getName());
      }
      // The system's CAs do not know the proxy's certificate: the handshake fails.
      try (TrackwayClient untrusting =
          TrackwayClient.builder()
              .target("127.0.0.1:" + proxy.port())
              .tls(true)
              .retryFor(Duration.ZERO)
              .build()) {
        assertThrows(UnavailableException.class, untrusting::listExperiments);
      }
    }
  }

  @Test
  void anUnreachableServerIsUnavailable() throws Exception {
    int port;
    try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      port = socket.getLocalPort();
    }
    try (TrackwayClient client =
        TrackwayClient.builder()
            .target("127.0.0.1:" + port)
            .retryFor(Duration.ofMillis(300))
            .build()) {
      UnavailableException down =
          assertThrows(UnavailableException.class, () -> client.getRun("x"));
      assertEquals(Status.Code.UNAVAILABLE, down.code());
      assertTrue(
          down.getMessage()
              .contains("cannot reach the Trackway server at grpc://127.0.0.1:" + port),
          down.getMessage());
    }
  }

  @Test
  void aMissedDeadlineIsUnavailable(TrackwayServer server) {
    try (TrackwayClient client =
        server.client().deadline(Duration.ofNanos(1)).retryFor(Duration.ZERO).build()) {
      UnavailableException late = assertThrows(UnavailableException.class, client::listExperiments);
      assertEquals(Status.Code.DEADLINE_EXCEEDED, late.code());
      assertTrue(late.getMessage().contains("timed out"), late.getMessage());
    }
  }

  @Test
  void callsRetryUntilTheServerIsBack() throws Exception {
    try (TrackwayServer server = TrackwayServer.start();
        TrackwayClient client = server.client().retryFor(Duration.ofSeconds(60)).build()) {
      String id = client.createExperiment("retry").getExperimentId();
      server.kill();
      Thread restarter =
          new Thread(
              () -> {
                sleep(1_000);
                server.restart();
              });
      restarter.start();
      // Sent while the server is down; answered once it is back.
      client.setExperimentTag(id, "after", "restart");
      assertEquals("after", client.getExperiment(id).getTags(0).getKey());
      restarter.join();
    }
  }

  @Test
  void repliesLargerThanTheLimitAreRefused(TrackwayServer server) {
    try (TrackwayClient client =
        server.client().maxMessageBytes(16).retryFor(Duration.ZERO).build()) {
      UnavailableException tooBig =
          assertThrows(
              UnavailableException.class,
              () -> client.createExperiment(TrackingTest.unique("big")));
      assertEquals(Status.Code.RESOURCE_EXHAUSTED, tooBig.code());
    }
  }

  @Test
  void closingTwiceIsHarmless(TrackwayServer server) {
    TrackwayClient client = server.client().build();
    client.close();
    client.close();
    assertFalse(client.toString().isEmpty());
  }

  private static void sleep(long millis) {
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
