package dev.trackway.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.rpc.ErrorInfo;
import dev.trackway.artifacts.v1.ArtifactScope;
import dev.trackway.artifacts.v1.ArtifactServiceGrpc;
import dev.trackway.artifacts.v1.ListArtifactsRequest;
import dev.trackway.tracking.v1.CreateExperimentRequest;
import dev.trackway.tracking.v1.GetMetricHistoryRequest;
import dev.trackway.tracking.v1.SearchExperimentsRequest;
import dev.trackway.tracking.v1.TrackingServiceGrpc;
import io.grpc.Status;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/** http(s) targets: parsing, requests by the http rules, errors, TLS, tokens and retries. */
@ExtendWith(TrackwayServerExtension.class)
class HttpConnectionTest {
  @TempDir Path tmp;

  @Test
  void httpTargetsParseLikeThePythonSdk() {
    assertEquals(new Target("h", 80, false, true, ""), Target.parse("http://h"));
    assertEquals(new Target("h", 443, true, true, ""), Target.parse("https://h/"));
    assertEquals(new Target("h", 5000, false, true, ""), Target.parse("HTTP://h:5000"));
    assertEquals(
        new Target("example.com", 8443, true, true, "/trackway/api"),
        Target.parse("https://example.com:8443/trackway/api/"));
    assertEquals(
        "https://example.com:443/trackway",
        Target.parse("https://example.com/trackway").toString());
    assertEquals("http://[::1]:5000", Target.parse("http://[::1]:5000").toString());
    for (String bad :
        List.of(
            "http://h:5000/?a=b",
            "http://h:5000?a=b",
            "https://h#top",
            "http://u@h:5000",
            "http://h:5000/v1",
            "http://h:5000/api/2.0/mlflow",
            "http://:5000")) {
      InvalidArgumentException refused =
          assertThrows(InvalidArgumentException.class, () -> Target.parse(bad), bad);
      assertTrue(refused.getMessage().startsWith("tracking URI"), refused.getMessage());
    }
  }

  @Test
  void requestsFollowTheHttpRules() throws Exception {
    HttpRules.Request history =
        HttpRules.of(TrackingServiceGrpc.getGetMetricHistoryMethod())
            .encode(
                GetMetricHistoryRequest.newBuilder()
                    .setRunId("r1")
                    .setMetricKey("eval/top 1%")
                    .setPageSize(5)
                    .setPageToken("a+b")
                    .build());
    assertEquals("GET", history.method());
    assertEquals(
        "/v1/runs/r1/metrics/eval/top%201%25?pageSize=5&pageToken=a%2Bb", history.pathAndQuery());
    assertEquals(null, history.body());

    HttpRules.Request search =
        HttpRules.of(TrackingServiceGrpc.getSearchExperimentsMethod())
            .encode(
                SearchExperimentsRequest.newBuilder().addOrderBy("name").addOrderBy("x").build());
    assertTrue(search.pathAndQuery().startsWith("/v1/experiments"), search.pathAndQuery());

    HttpRules.Request created =
        HttpRules.of(TrackingServiceGrpc.getCreateExperimentMethod())
            .encode(CreateExperimentRequest.newBuilder().setName("a/b").build());
    assertEquals("POST", created.method());
    assertEquals("/v1/experiments", created.pathAndQuery());
    assertEquals("{\"name\":\"a/b\"}", new String(created.body(), StandardCharsets.UTF_8));

    // One binding per scope: the first whose path fields are set.
    HttpRules list = HttpRules.of(ArtifactServiceGrpc.getListArtifactsMethod());
    assertEquals(
        "/v1/runs/r%2F1/artifacts?path=d%2Fe",
        list.encode(
                ListArtifactsRequest.newBuilder()
                    .setScope(ArtifactScope.newBuilder().setRunId("r/1"))
                    .setPath("d/e")
                    .build())
            .pathAndQuery());
    assertEquals(
        "/v1/experiments/7/artifacts",
        list.encode(
                ListArtifactsRequest.newBuilder()
                    .setScope(ArtifactScope.newBuilder().setExperimentId("7"))
                    .build())
            .pathAndQuery());
    assertThrows(
        HttpRules.MissingPathField.class,
        () -> list.encode(ListArtifactsRequest.getDefaultInstance()));
    assertTrue(HttpRules.of(TrackingServiceGrpc.getLogStreamMethod()).isEmpty());
  }

  @Test
  void errorBodiesMapToCodes() {
    byte[] json =
        ("{\"code\":5,\"message\":\"no run\",\"details\":[{\"@type\":"
                + "\"type.googleapis.com/google.rpc.ErrorInfo\",\"reason\":\"GONE\","
                + "\"domain\":\"trackway.dev\",\"metadata\":{\"run_id\":\"r\"}}]}")
            .getBytes(StandardCharsets.UTF_8);
    com.google.rpc.Status status = HttpErrors.status(404, json);
    assertEquals(5, status.getCode());
    assertEquals("no run", status.getMessage());
    assertTrue(status.getDetails(0).is(ErrorInfo.class));
    TrackwayException typed = Errors.from(HttpErrors.fromAnswer(404, json), "t");
    assertInstanceOf(NotFoundException.class, typed);
    assertEquals("no run", typed.getMessage());
    assertEquals("GONE", typed.reason());
    assertEquals("r", typed.metadata().get("run_id"));

    // A proxy's error page: the HTTP status decides.
    int[][] mapped = {
      {400, 3}, {401, 16}, {403, 7}, {404, 5}, {409, 10}, {429, 14}, {502, 14}, {503, 14}, {504, 4},
      {500, 13}, {507, 13}
    };
    for (int[] pair : mapped) {
      com.google.rpc.Status proxied =
          HttpErrors.status(pair[0], "<html>gateway</html>".getBytes(StandardCharsets.UTF_8));
      assertEquals(pair[1], proxied.getCode(), "HTTP " + pair[0]);
      assertTrue(proxied.getMessage().startsWith("HTTP " + pair[0]), proxied.getMessage());
    }
    assertThrows(
        UnavailableException.class,
        () -> {
          throw Errors.from(HttpErrors.fromAnswer(503, new byte[0]), "t");
        });
  }

  @Test
  void theBearerTokenGoesWithEveryRequest(TrackwayServer server) throws Exception {
    try (CuttingProxy proxy = new CuttingProxy(server.httpPort());
        TrackwayClient client =
            TrackwayClient.builder().target(proxy.target()).token("s3cret").build()) {
      String exp = client.createExperiment(TrackingTest.unique("token")).getExperimentId();
      String run = client.createRun(exp).getInfo().getRunId();
      try (MetricLogger logger = client.newMetricLogger()) {
        logger.logMetric(run, "loss", 1, 1);
      }
      client.artifacts(run).upload("a.txt", new ByteArrayInputStream(new byte[] {1, 2}));
      client.artifacts(run).download("a.txt", new ByteArrayOutputStream());
      List<String> requests =
          proxy.sent().stream().filter(text -> text.contains(" HTTP/1.1\r\n")).toList();
      assertEquals(5, requests.size(), requests.toString());
      for (String request : requests) {
        assertTrue(request.contains("\r\nAuthorization: Bearer s3cret\r\n"), request);
        assertTrue(request.contains("\r\nUser-Agent: trackway-java\r\n"), request);
      }
    }
  }

  @Test
  void httpsWithTrustedCertificates(TrackwayServer server) throws Exception {
    try (TlsProxy proxy = new TlsProxy(tmp, server.httpPort())) {
      try (TrackwayClient client =
          TrackwayClient.builder()
              .target("https://127.0.0.1:" + proxy.port())
              .trustCertificates(proxy.certificate())
              .build()) {
        assertTrue(client.target().tls());
        String name = TrackingTest.unique("tls");
        assertEquals(name, client.createExperiment(name).getName());
      }
      // The system's CAs do not know the proxy's certificate: the handshake fails.
      try (TrackwayClient untrusting =
          TrackwayClient.builder()
              .target("https://127.0.0.1:" + proxy.port())
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
            .target("http://127.0.0.1:" + port)
            .retryFor(Duration.ofMillis(300))
            .build()) {
      UnavailableException down =
          assertThrows(UnavailableException.class, () -> client.getRun("x"));
      assertEquals(Status.Code.UNAVAILABLE, down.code());
      assertTrue(
          down.getMessage()
              .contains("cannot reach the Trackway server at http://127.0.0.1:" + port),
          down.getMessage());
    }
  }

  @Test
  void aMissedDeadlineIsUnavailable(TrackwayServer server) {
    try (TrackwayClient client =
        server.httpClient().deadline(Duration.ofNanos(1)).retryFor(Duration.ZERO).build()) {
      UnavailableException late = assertThrows(UnavailableException.class, client::listExperiments);
      assertEquals(Status.Code.DEADLINE_EXCEEDED, late.code());
      assertTrue(late.getMessage().contains("timed out"), late.getMessage());
    }
  }

  @Test
  void repliesLargerThanTheLimitAreRefused(TrackwayServer server) {
    try (TrackwayClient client =
        server.httpClient().maxMessageBytes(16).retryFor(Duration.ZERO).build()) {
      UnavailableException tooBig =
          assertThrows(
              UnavailableException.class,
              () -> client.createExperiment(TrackingTest.unique("big")));
      assertEquals(Status.Code.RESOURCE_EXHAUSTED, tooBig.code());
    }
  }

  @Test
  void callsRetryUntilTheServerIsBack() throws Exception {
    try (TrackwayServer server = TrackwayServer.start();
        TrackwayClient client = server.httpClient().retryFor(Duration.ofSeconds(60)).build()) {
      String id = client.createExperiment("retry").getExperimentId();
      server.kill();
      Thread restarter =
          new Thread(
              () -> {
                try {
                  Thread.sleep(1_000);
                } catch (InterruptedException e) {
                  Thread.currentThread().interrupt();
                }
                server.restart();
              });
      restarter.start();
      // Sent while the server is down; answered once it is back.
      client.setExperimentTag(id, "after", "restart");
      assertEquals("after", client.getExperiment(id).getTags(0).getKey());
      restarter.join();
    }
  }
}
