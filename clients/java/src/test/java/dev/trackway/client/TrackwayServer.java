package dev.trackway.client;

import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.health.v1.HealthGrpc;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A real {@code trackway server} in a child process, on SQLite and a local artifact root in a
 * temporary folder, with its gRPC port and its HTTP/JSON port on free ports. The executable comes
 * from the system property {@code trackway.bin}, else TRACKWAY_BIN, else {@code
 * ../../.venv/bin/trackway} (relative to clients/java).
 */
public final class TrackwayServer implements AutoCloseable {
  private final Path dir;
  private final int port;
  private final int httpPort;
  private Process process;

  private TrackwayServer(Path dir, int port, int httpPort) {
    this.dir = dir;
    this.port = port;
    this.httpPort = httpPort;
  }

  /** Starts a server on a free port and waits until its health check says SERVING. */
  public static TrackwayServer start() {
    try {
      TrackwayServer server =
          new TrackwayServer(Files.createTempDirectory("trackway-java-"), freePort(), freePort());
      // A test JVM that dies must not leave its server behind.
      Runtime.getRuntime().addShutdownHook(new Thread(server::kill));
      server.launch();
      return server;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  public String target() {
    return "127.0.0.1:" + port;
  }

  public int port() {
    return port;
  }

  /** The port of the HTTP/JSON API. */
  public int httpPort() {
    return httpPort;
  }

  /** The tracking URI of the HTTP/JSON API. */
  public String httpTarget() {
    return "http://127.0.0.1:" + httpPort;
  }

  Path dir() {
    return dir;
  }

  public TrackwayClient.Builder client() {
    return TrackwayClient.builder().target(target());
  }

  /** A client of the HTTP/JSON API. */
  public TrackwayClient.Builder httpClient() {
    return TrackwayClient.builder().target(httpTarget());
  }

  /** Kills the process as a crash would (SIGKILL). */
  void kill() {
    if (process == null) {
      return;
    }
    process.destroyForcibly();
    try {
      process.waitFor(10, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** Starts the server again on the same port, database and artifacts. */
  void restart() {
    kill();
    launch();
  }

  @Override
  public void close() {
    if (process != null && process.isAlive()) {
      process.destroy();
      try {
        if (!process.waitFor(10, TimeUnit.SECONDS)) {
          kill();
        }
      } catch (InterruptedException e) {
        kill();
        Thread.currentThread().interrupt();
      }
    }
  }

  static Path executable() {
    String configured = System.getProperty("trackway.bin");
    if (configured == null || configured.isBlank()) {
      configured = System.getenv("TRACKWAY_BIN");
    }
    Path bin =
        configured == null || configured.isBlank()
            ? Paths.get("..", "..", ".venv", "bin", "trackway")
            : Paths.get(configured);
    if (!Files.isExecutable(bin)) {
      throw new IllegalStateException(
          "no trackway executable at "
              + bin.toAbsolutePath()
              + "; set TRACKWAY_BIN or -Dtrackway.bin to the trackway of the project's virtualenv");
    }
    return bin;
  }

  private void launch() {
    List<String> command =
        List.of(
            executable().toString(),
            "server",
            "--backend-store-uri",
            "sqlite:///" + dir.resolve("t.db").toAbsolutePath(),
            "--artifacts-destination",
            dir.resolve("artifacts").toUri().toString(),
            "--grpc-port",
            String.valueOf(port),
            "--http-port",
            String.valueOf(httpPort),
            "--grace-seconds",
            "2");
    try {
      process =
          new ProcessBuilder(command)
              .redirectErrorStream(true)
              .redirectOutput(ProcessBuilder.Redirect.appendTo(dir.resolve("server.log").toFile()))
              .start();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    awaitServing();
  }

  private void awaitServing() {
    ManagedChannel channel = ManagedChannelBuilder.forTarget(target()).usePlaintext().build();
    try {
      HealthGrpc.HealthBlockingStub health = HealthGrpc.newBlockingStub(channel);
      long giveUpAt = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
      while (System.nanoTime() < giveUpAt) {
        if (!process.isAlive()) {
          throw new IllegalStateException(
              "trackway server exited; see " + dir.resolve("server.log"));
        }
        try {
          HealthCheckResponse reply =
              health
                  .withDeadlineAfter(1, TimeUnit.SECONDS)
                  .check(HealthCheckRequest.newBuilder().setService("").build());
          if (reply.getStatus() == HealthCheckResponse.ServingStatus.SERVING && httpAccepts()) {
            return;
          }
        } catch (StatusRuntimeException notYet) {
          channel.resetConnectBackoff();
        }
        Thread.sleep(50);
      }
      throw new IllegalStateException(
          "trackway server did not serve within 60 s; see " + dir.resolve("server.log"));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    } finally {
      channel.shutdownNow();
    }
  }

  private boolean httpAccepts() {
    try (Socket socket = new Socket()) {
      socket.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), httpPort), 1_000);
      return true;
    } catch (IOException notYet) {
      return false;
    }
  }

  private static int freePort() throws IOException {
    try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return socket.getLocalPort();
    }
  }
}
