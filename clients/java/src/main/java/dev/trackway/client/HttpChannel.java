package dev.trackway.client;

import io.grpc.CallOptions;
import io.grpc.ClientCall;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;

/**
 * A gRPC channel that speaks the server's HTTP/JSON API: each unary call becomes one HTTP request
 * by the RPC's {@code google.api.http} rule ({@link HttpRules}), so the generated blocking stubs,
 * the client's interceptors, retry loop and typed errors work as they do over gRPC. Failures come
 * back as the same statuses: the server's {@code google.rpc.Status}, UNAVAILABLE when it cannot be
 * reached, DEADLINE_EXCEEDED when the call's deadline passes.
 *
 * <p>Streaming RPCs have no HTTP form and fail with UNIMPLEMENTED; their callers take the HTTP way
 * instead ({@link HttpLogSession}, {@link HttpArtifacts}), with {@link #send} and {@link
 * #newRequest}. Requests go over HTTP/1.1 with the JDK's {@link HttpClient}, keeping connections
 * alive; TLS for https URIs, with the JDK's trusted CAs or the builder's certificates.
 */
final class HttpChannel extends ManagedChannel {
  private static final String USER_AGENT = "trackway-java";

  private final Target target;
  private final HttpClient client;
  private final String authorization;
  private final int maxMessageBytes;
  private final Map<String, HttpRules> rules = new ConcurrentHashMap<>();
  private volatile boolean shutdown;

  HttpChannel(
      Target target, Path trustCertificates, String token, int maxMessageBytes, Duration connect) {
    this.target = target;
    this.authorization = token == null || token.isEmpty() ? null : "Bearer " + token;
    this.maxMessageBytes = maxMessageBytes;
    HttpClient.Builder builder =
        HttpClient.newBuilder()
            .version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(
                connect.isZero() || connect.isNegative() ? Duration.ofSeconds(10) : connect)
            .followRedirects(HttpClient.Redirect.NEVER);
    if (target.tls()) {
      builder.sslContext(sslContext(trustCertificates));
    }
    this.client = builder.build();
  }

  Target target() {
    return target;
  }

  int maxMessageBytes() {
    return maxMessageBytes;
  }

  HttpClient client() {
    return client;
  }

  /** A request to {@code pathAndQuery} below the target's base path, with the client's headers. */
  HttpRequest.Builder newRequest(String pathAndQuery) {
    if (shutdown) {
      throw Status.UNAVAILABLE.withDescription("the client is closed").asRuntimeException();
    }
    String scheme = target.tls() ? "https" : "http";
    HttpRequest.Builder request =
        HttpRequest.newBuilder(
                URI.create(scheme + "://" + target.address() + target.basePath() + pathAndQuery))
            .setHeader("User-Agent", USER_AGENT);
    if (authorization != null) {
      request.setHeader("Authorization", authorization);
    }
    return request;
  }

  /**
   * Sends a request and returns its 2xx answer with the body unread (close it); other answers and
   * failures are thrown as StatusRuntimeExceptions.
   */
  HttpResponse<InputStream> send(HttpRequest request) {
    HttpResponse<InputStream> response;
    try {
      response = client.send(request, HttpResponse.BodyHandlers.ofInputStream());
    } catch (IOException e) {
      throw HttpErrors.fromFailure(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw HttpErrors.fromFailure(e);
    }
    if (response.statusCode() / 100 == 2) {
      return response;
    }
    byte[] body;
    try (InputStream in = response.body()) {
      body = in.readNBytes(1 << 16);
    } catch (IOException e) {
      body = new byte[0];
    }
    throw HttpErrors.fromAnswer(response.statusCode(), body);
  }

  /** The HTTP bindings of a method, read once from its proto options. */
  HttpRules rules(MethodDescriptor<?, ?> method) {
    return rules.computeIfAbsent(method.getFullMethodName(), name -> HttpRules.of(method));
  }

  @Override
  public <Q, R> ClientCall<Q, R> newCall(MethodDescriptor<Q, R> method, CallOptions options) {
    return new HttpUnaryCall<>(this, method, options);
  }

  @Override
  public String authority() {
    return target.address();
  }

  @Override
  public ManagedChannel shutdown() {
    shutdown = true;
    return this;
  }

  @Override
  public boolean isShutdown() {
    return shutdown;
  }

  @Override
  public boolean isTerminated() {
    return shutdown;
  }

  @Override
  public ManagedChannel shutdownNow() {
    return shutdown();
  }

  @Override
  public boolean awaitTermination(long timeout, TimeUnit unit) {
    return shutdown;
  }

  /** Metadata that interceptors added, as request headers (binary values are left out). */
  static void copyHeaders(Metadata headers, HttpRequest.Builder request) {
    for (String key : headers.keys()) {
      if (key.endsWith(Metadata.BINARY_HEADER_SUFFIX) || key.startsWith("grpc-")) {
        continue;
      }
      Iterable<String> values =
          headers.getAll(Metadata.Key.of(key, Metadata.ASCII_STRING_MARSHALLER));
      if (values == null) {
        continue;
      }
      boolean first = true;
      for (String value : values) {
        try {
          if (first) {
            request.setHeader(key, value);
          } else {
            request.header(key, value);
          }
          first = false;
        } catch (IllegalArgumentException restricted) {
          // Headers that the HTTP client sets itself (host, content-length, ...) stay its own.
        }
      }
    }
  }

  private static SSLContext sslContext(Path trustCertificates) {
    try {
      if (trustCertificates == null) {
        return SSLContext.getDefault();
      }
      KeyStore trusted = KeyStore.getInstance(KeyStore.getDefaultType());
      trusted.load(null, null);
      try (InputStream in = Files.newInputStream(trustCertificates)) {
        int i = 0;
        for (Certificate certificate :
            CertificateFactory.getInstance("X.509").generateCertificates(in)) {
          trusted.setCertificateEntry("trusted-" + i++, certificate);
        }
      }
      TrustManagerFactory managers =
          TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
      managers.init(trusted);
      SSLContext context = SSLContext.getInstance("TLS");
      context.init(null, managers.getTrustManagers(), null);
      return context;
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read trust certificates " + trustCertificates, e);
    } catch (GeneralSecurityException e) {
      throw new IllegalArgumentException("unusable trust certificates " + trustCertificates, e);
    }
  }

  /** For a caller that needs the error a call would end with. */
  static StatusRuntimeException grpcOnly(MethodDescriptor<?, ?> method) {
    return Status.UNIMPLEMENTED
        .withDescription(
            method.getFullMethodName()
                + " is gRPC-only: it has no HTTP/JSON form; use a grpc:// tracking URI for it")
        .asRuntimeException();
  }
}
