package dev.trackway.client;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.util.JsonFormat;
import dev.trackway.artifacts.v1.ArtifactScope;
import dev.trackway.artifacts.v1.UploadResponse;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/**
 * Artifact bytes over HTTP, where the Upload and Download streams have no form: the server's byte
 * routes take their place.
 *
 * <pre>
 * PUT /v1/runs/{run_id}/artifacts/{path}   the file as the body, x-trackway-sha256: its digest
 * GET /v1/runs/{run_id}/artifacts/{path}   the file, from Range: bytes=N- when resuming
 * </pre>
 *
 * (and the same below {@code /v1/experiments/{experiment_id}}). Bodies stream from and to the
 * caller's files and streams, never held in memory. Failures are StatusRuntimeExceptions, as over
 * gRPC, so that {@link Calls#call} retries what may be retried; IOExceptions of the caller's own
 * streams travel as UncheckedIOException.
 */
final class HttpArtifacts {
  static final String SHA256_HEADER = "x-trackway-sha256";

  private static final JsonFormat.Parser JSON = JsonFormat.parser().ignoringUnknownFields();
  private static final int BUFFER_BYTES = 1 << 16;

  private final HttpChannel channel;
  private final ArtifactScope scope;

  HttpArtifacts(HttpChannel channel, ArtifactScope scope) {
    this.channel = channel;
    this.scope = scope;
  }

  /** One PUT of a whole file with its digest; the caller retries it. */
  UploadResponse putFile(String path, Path file, String sha256) {
    HttpRequest.BodyPublisher body;
    try {
      body = HttpRequest.BodyPublishers.ofFile(file);
    } catch (FileNotFoundException e) {
      throw new UncheckedIOException(e);
    }
    return put(path, body, sha256);
  }

  /**
   * One PUT of what {@code source} yields, sent chunked as it is read. A failure of the source
   * itself is thrown as UncheckedIOException, and the server keeps nothing of the cut body.
   */
  UploadResponse putStream(String path, InputStream source) {
    WatchedInput watched = new WatchedInput(source);
    try {
      return put(path, HttpRequest.BodyPublishers.ofInputStream(() -> watched), null);
    } catch (StatusRuntimeException e) {
      if (watched.failure != null) {
        throw new UncheckedIOException(watched.failure);
      }
      throw e;
    }
  }

  private UploadResponse put(String path, HttpRequest.BodyPublisher body, String sha256) {
    HttpRequest.Builder request =
        channel.newRequest(url(path)).header("Content-Type", "application/octet-stream");
    if (sha256 != null) {
      request.header(SHA256_HEADER, sha256);
    }
    HttpResponse<InputStream> response = channel.send(request.PUT(body).build());
    try (InputStream in = response.body()) {
      UploadResponse.Builder reply = UploadResponse.newBuilder();
      JSON.merge(new String(in.readAllBytes(), StandardCharsets.UTF_8), reply);
      return reply.build();
    } catch (InvalidProtocolBufferException e) {
      throw Status.INTERNAL
          .withDescription("the server's answer to an upload is not an UploadResponse")
          .withCause(e)
          .asRuntimeException();
    } catch (IOException e) {
      throw HttpErrors.fromFailure(e);
    }
  }

  /**
   * One GET of {@code path} from byte {@code written[0]} on, into {@code out}; {@code size[0]} is
   * set from the first answer. A broken connection is UNAVAILABLE, after which the caller retries
   * and the next GET resumes; a failing {@code out} is UncheckedIOException.
   */
  void get(String path, long[] written, long[] size, OutputStream out) {
    if (size[0] >= 0 && written[0] >= size[0]) {
      return; // all there: a Range from the end would be unsatisfiable
    }
    HttpRequest.Builder request = channel.newRequest(url(path)).GET();
    if (written[0] > 0) {
      request.header("Range", "bytes=" + written[0] + "-");
    }
    HttpResponse<InputStream> response = channel.send(request.build());
    long expected = response.headers().firstValueAsLong("Content-Length").orElse(-1);
    long skip = 0;
    if (response.statusCode() == 206) {
      String range = response.headers().firstValue("Content-Range").orElse("");
      int slash = range.lastIndexOf('/');
      if (size[0] < 0 && slash >= 0 && !range.endsWith("*")) {
        size[0] = Long.parseLong(range.substring(slash + 1).strip());
      }
    } else {
      // The whole file came (no Range asked, or a proxy ignored it): skip what is written.
      skip = written[0];
      if (size[0] < 0) {
        size[0] = expected;
      }
    }
    long got = 0;
    try (InputStream in = response.body()) {
      byte[] buffer = new byte[BUFFER_BYTES];
      while (true) {
        int n;
        try {
          n = in.read(buffer);
        } catch (IOException e) {
          throw HttpErrors.fromFailure(e);
        }
        if (n < 0) {
          break;
        }
        got += n;
        int from = (int) Math.min(n, skip);
        skip -= from;
        if (n > from) {
          out.write(buffer, from, n - from);
          written[0] += n - from;
        }
      }
    } catch (IOException e) {
      // Closing the body above abandoned the rest of the answer and its connection.
      throw new UncheckedIOException(e);
    }
    if (expected >= 0 && got != expected) {
      throw Status.UNAVAILABLE
          .withDescription(
              path + ": the download broke off at " + got + " of " + expected + " bytes")
          .asRuntimeException();
    }
  }

  /** The byte route of {@code path} below the scope's root, each segment percent-encoded. */
  private String url(String path) {
    String owner =
        scope.getOwnerCase() == ArtifactScope.OwnerCase.EXPERIMENT_ID
            ? "experiments/" + HttpRules.percentEncode(scope.getExperimentId(), false)
            : "runs/" + HttpRules.percentEncode(scope.getRunId(), false);
    return "/v1/" + owner + "/artifacts/" + HttpRules.percentEncode(path, true);
  }

  /** A source that remembers its own failure, to tell it from the connection's. */
  private static final class WatchedInput extends InputStream {
    private final InputStream source;
    private volatile IOException failure;

    WatchedInput(InputStream source) {
      this.source = source;
    }

    @Override
    public int read() throws IOException {
      try {
        return source.read();
      } catch (IOException e) {
        failure = e;
        throw e;
      }
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
      try {
        return source.read(b, off, len);
      } catch (IOException e) {
        failure = e;
        throw e;
      }
    }

    @Override
    public void close() {
      // The caller owns the source.
    }
  }
}
