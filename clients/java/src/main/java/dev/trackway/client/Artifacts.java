package dev.trackway.client;

import com.google.protobuf.ByteString;
import dev.trackway.artifacts.v1.ArtifactScope;
import dev.trackway.artifacts.v1.ArtifactServiceGrpc;
import dev.trackway.artifacts.v1.DeleteArtifactRequest;
import dev.trackway.artifacts.v1.DownloadRequest;
import dev.trackway.artifacts.v1.DownloadResponse;
import dev.trackway.artifacts.v1.FileInfo;
import dev.trackway.artifacts.v1.ListArtifactsRequest;
import dev.trackway.artifacts.v1.ListArtifactsResponse;
import dev.trackway.artifacts.v1.StatArtifactRequest;
import dev.trackway.artifacts.v1.UploadHeader;
import dev.trackway.artifacts.v1.UploadEnd;
import dev.trackway.artifacts.v1.UploadRequest;
import dev.trackway.artifacts.v1.UploadResponse;
import io.grpc.Context;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The files of one run or experiment, moved through the server in chunks: memory stays flat
 * whatever the size. Paths are relative to the scope's root and use {@code /}.
 *
 * <p>Uploads become visible only once complete and verified. Downloads resume from the bytes
 * already written when the connection breaks. Over an http(s) tracking URI the bytes go through the
 * server's PUT and GET routes instead of the streaming RPCs, with the same behaviour (see {@link
 * HttpArtifacts}).
 */
public final class Artifacts {
  /** Bytes per upload message; the server takes at most 4 MiB. */
  static final int CHUNK_BYTES = 1 << 20;

  private final Calls calls;
  private final ArtifactScope scope;

  /** The byte routes for an http(s) target, else null. */
  private final HttpArtifacts http;

  Artifacts(Calls calls, ArtifactScope scope) {
    this.calls = calls;
    this.scope = scope;
    this.http =
        calls.managed instanceof HttpChannel channel ? new HttpArtifacts(channel, scope) : null;
  }

  static ArtifactScope runScope(String runId) {
    return ArtifactScope.newBuilder().setRunId(runId).build();
  }

  static ArtifactScope experimentScope(String experimentId) {
    return ArtifactScope.newBuilder().setExperimentId(experimentId).build();
  }

  /**
   * Uploads a file to {@code path}. It is hashed first, so that the server keeps nothing if the
   * bytes it receives differ (DataLossException); retried after a broken connection.
   */
  public FileInfo upload(String path, Path file) throws IOException {
    long size = Files.size(file);
    String sha256;
    try (InputStream in = Files.newInputStream(file)) {
      sha256 = hash(in);
    }
    UploadHeader header = header(path).setSize(size).setExpectedSha256(sha256).build();
    return unchecked(
        () ->
            calls.call(
                () -> {
                  if (http != null) {
                    return http.putFile(path, file, sha256).getFile();
                  }
                  try (InputStream in = Files.newInputStream(file)) {
                    return send(header, in, sha()).getFile();
                  } catch (IOException e) {
                    throw new UncheckedIOException(e);
                  }
                }));
  }

  /**
   * Uploads everything {@code in} yields to {@code path}, without closing it. The server's SHA-256
   * of what it stored is checked against the bytes read (DataLossException on a mismatch). Not
   * retried, since a stream cannot be read twice.
   */
  public FileInfo upload(String path, InputStream in) throws IOException {
    MessageDigest digest = sha();
    UploadResponse reply;
    try {
      reply =
          http != null
              ? http.putStream(path, new DigestInputStream(in, digest))
              : send(header(path).build(), in, digest);
    } catch (StatusRuntimeException e) {
      throw Errors.from(e, calls.target.toString());
    } catch (UncheckedIOException e) {
      throw e.getCause();
    }
    String sent = HexFormat.of().formatHex(digest.digest());
    if (!sent.equals(reply.getSha256())) {
      throw Errors.of(
          Status.Code.DATA_LOSS,
          "upload of "
              + path
              + ": the server stored SHA-256 "
              + reply.getSha256()
              + " but the bytes read have "
              + sent);
    }
    return reply.getFile();
  }

  /**
   * Writes the file at {@code path} to {@code out} (not closed), resuming after a broken
   * connection; returns the number of bytes written.
   */
  public long download(String path, OutputStream out) throws IOException {
    long[] written = {0};
    long[] size = {-1};
    unchecked(
        () ->
            calls.call(
                () -> {
                  if (http != null) {
                    http.get(path, written, size, out);
                  } else {
                    receive(path, written, size, out);
                  }
                  return null;
                }));
    if (size[0] >= 0 && written[0] != size[0]) {
      throw Errors.of(
          Status.Code.DATA_LOSS,
          "download of " + path + " ended after " + written[0] + " of " + size[0] + " bytes");
    }
    return written[0];
  }

  /**
   * Downloads {@code path} to a local file, replacing it only once every byte arrived; creates the
   * parent folders. Returns the number of bytes.
   */
  public long download(String path, Path file) throws IOException {
    Path parent = file.toAbsolutePath().getParent();
    Files.createDirectories(parent);
    Path partial = Files.createTempFile(parent, "." + file.getFileName(), ".part");
    try {
      long bytes;
      try (OutputStream out = Files.newOutputStream(partial)) {
        bytes = download(path, out);
      }
      Files.move(
          partial, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
      return bytes;
    } finally {
      Files.deleteIfExists(partial);
    }
  }

  /** The direct children of a folder (empty: the root), sorted by path, every page. */
  public List<FileInfo> list(String folder) {
    List<FileInfo> files = new ArrayList<>();
    String token = "";
    do {
      ListArtifactsRequest request =
          ListArtifactsRequest.newBuilder()
              .setScope(scope)
              .setPath(folder)
              .setPageToken(token)
              .build();
      ListArtifactsResponse reply =
          calls.call(() -> calls.artifactsBlocking().listArtifacts(request));
      files.addAll(reply.getFilesList());
      token = reply.getNextPageToken();
    } while (!token.isEmpty());
    return files;
  }

  /** The root's direct children. */
  public List<FileInfo> list() {
    return list("");
  }

  /** A file or folder; NotFoundException when there is none. */
  public FileInfo stat(String path) {
    StatArtifactRequest request =
        StatArtifactRequest.newBuilder().setScope(scope).setPath(path).build();
    return calls.call(() -> calls.artifactsBlocking().statArtifact(request)).getFile();
  }

  /** Deletes a file, or a folder with everything in it; returns how many files went. */
  public long delete(String path) {
    DeleteArtifactRequest request =
        DeleteArtifactRequest.newBuilder().setScope(scope).setPath(path).build();
    return calls.call(() -> calls.artifactsBlocking().deleteArtifact(request)).getDeletedFiles();
  }

  private UploadHeader.Builder header(String path) {
    return UploadHeader.newBuilder().setScope(scope).setPath(path);
  }

  /**
   * One Upload call: the header, then chunks as fast as gRPC's flow control takes them, so that a
   * slow server holds the reader back instead of filling memory.
   */
  private UploadResponse send(UploadHeader header, InputStream source, MessageDigest digest) {
    CompletableFuture<UploadResponse> result = new CompletableFuture<>();
    Object ready = new Object();
    AtomicReference<UploadResponse> reply = new AtomicReference<>();
    ClientResponseObserver<UploadRequest, UploadResponse> observer =
        new ClientResponseObserver<>() {
          @Override
          public void beforeStart(ClientCallStreamObserver<UploadRequest> requests) {
            requests.setOnReadyHandler(() -> wake(ready));
          }

          @Override
          public void onNext(UploadResponse value) {
            reply.set(value);
          }

          @Override
          public void onError(Throwable t) {
            result.completeExceptionally(t);
            wake(ready);
          }

          @Override
          public void onCompleted() {
            result.complete(reply.get());
            wake(ready);
          }
        };
    ClientCallStreamObserver<UploadRequest> requests =
        (ClientCallStreamObserver<UploadRequest>)
            ArtifactServiceGrpc.newStub(calls.channel).upload(observer);
    // Not closed here: the caller owns the source.
    InputStream in = new DigestInputStream(source, digest);
    try {
      requests.onNext(UploadRequest.newBuilder().setHeader(header).build());
      byte[] buffer = new byte[CHUNK_BYTES];
      int n;
      while (!result.isDone() && (n = in.readNBytes(buffer, 0, buffer.length)) > 0) {
        awaitReady(requests, ready, result);
        requests.onNext(
            UploadRequest.newBuilder().setChunk(ByteString.copyFrom(buffer, 0, n)).build());
      }
      if (!result.isDone()) {
        // The file is whole: without this, a stream of unknown size is not stored.
        requests.onNext(UploadRequest.newBuilder().setEnd(UploadEnd.getDefaultInstance()).build());
      }
      requests.onCompleted();
    } catch (IOException | RuntimeException | InterruptedException e) {
      requests.cancel("the client stopped the upload", e);
      if (e instanceof InterruptedException) {
        Thread.currentThread().interrupt();
        throw Errors.of(Status.Code.CANCELLED, "the upload was interrupted");
      }
      throw e instanceof IOException io ? new UncheckedIOException(io) : (RuntimeException) e;
    }
    return await(result);
  }

  private static void awaitReady(
      ClientCallStreamObserver<UploadRequest> requests, Object ready, CompletableFuture<?> result)
      throws InterruptedException {
    synchronized (ready) {
      while (!requests.isReady() && !result.isDone()) {
        ready.wait(100);
      }
    }
  }

  private static void wake(Object ready) {
    synchronized (ready) {
      ready.notifyAll();
    }
  }

  private static <T> T await(CompletableFuture<T> result) {
    try {
      return result.get();
    } catch (ExecutionException e) {
      if (e.getCause() instanceof RuntimeException r) {
        throw r;
      }
      throw new IllegalStateException(e.getCause());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw Errors.of(Status.Code.CANCELLED, "the upload was interrupted");
    }
  }

  /**
   * One Download call from the bytes written so far. The call runs in a cancellable context, so
   * that a failing output stream ends it instead of leaving it open.
   */
  private void receive(String path, long[] written, long[] size, OutputStream out) {
    DownloadRequest request =
        DownloadRequest.newBuilder().setScope(scope).setPath(path).setOffset(written[0]).build();
    Context.CancellableContext context = Context.current().withCancellation();
    Context previous = context.attach();
    try {
      Iterator<DownloadResponse> replies =
          ArtifactServiceGrpc.newBlockingStub(calls.channel).download(request);
      boolean first = true;
      while (replies.hasNext()) {
        DownloadResponse reply = replies.next();
        if (first && size[0] < 0) {
          size[0] = reply.getSize();
        }
        first = false;
        reply.getChunk().writeTo(out);
        written[0] += reply.getChunk().size();
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } finally {
      context.detach(previous);
      context.cancel(null);
    }
  }

  private interface IoAction<T> {
    T run();
  }

  /** Runs an action whose IOExceptions travel as UncheckedIOException, and throws them again. */
  private static <T> T unchecked(IoAction<T> action) throws IOException {
    try {
      return action.run();
    } catch (UncheckedIOException e) {
      throw e.getCause();
    }
  }

  private static String hash(InputStream in) throws IOException {
    MessageDigest digest = sha();
    byte[] buffer = new byte[CHUNK_BYTES];
    int n;
    while ((n = in.read(buffer)) > 0) {
      digest.update(buffer, 0, n);
    }
    return HexFormat.of().formatHex(digest.digest());
  }

  private static MessageDigest sha() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every Java runtime has SHA-256", e);
    }
  }
}
