package dev.trackway.client;

import java.net.URI;
import java.net.URISyntaxException;

/**
 * Where the client dials: a host, a port and whether the URI asked for TLS.
 *
 * <p>Tracking URIs are {@code grpc://host:port}, {@code grpcs://host:port} (TLS) or a bare {@code
 * host:port}, as in the Python SDK; {@code http(s)://} URIs belong to the REST API, which this
 * client does not speak.
 */
public record Target(String host, int port, boolean tls) {
  /** The variable that names the default tracking URI. */
  public static final String ENV = "TRACKWAY_TRACKING_URI";

  public static final int DEFAULT_PORT = 50051;
  public static final String DEFAULT_URI = "grpc://127.0.0.1:" + DEFAULT_PORT;

  /** The URI from {@value #ENV}, else {@link #DEFAULT_URI}. */
  public static Target fromEnvironment() {
    String uri = System.getenv(ENV);
    return parse(uri == null || uri.isBlank() ? DEFAULT_URI : uri);
  }

  /** Parses a tracking URI; throws InvalidArgumentException saying what is supported. */
  public static Target parse(String uri) {
    String text = uri == null ? "" : uri.strip();
    if (text.isEmpty()) {
      throw invalid(uri, "it is empty; use grpc://host:port");
    }
    if (!text.contains("://")) {
      text = "grpc://" + text;
    }
    URI parsed;
    try {
      parsed = new URI(text);
    } catch (URISyntaxException e) {
      throw invalid(uri, e.getMessage());
    }
    String scheme = parsed.getScheme().toLowerCase(java.util.Locale.ROOT);
    if (scheme.equals("http") || scheme.equals("https")) {
      throw invalid(
          uri, "this client speaks gRPC; point it at the server's gRPC port, as grpc://host:50051");
    }
    if (!scheme.equals("grpc") && !scheme.equals("grpcs")) {
      throw invalid(uri, "unsupported scheme " + parsed.getScheme() + "; use grpc://host:port");
    }
    String path = parsed.getRawPath() == null ? "" : parsed.getRawPath();
    if (!path.replace("/", "").isEmpty()
        || parsed.getRawQuery() != null
        || parsed.getRawFragment() != null
        || parsed.getRawUserInfo() != null) {
      throw invalid(uri, "expected grpc://host:port and nothing more");
    }
    String host = parsed.getHost();
    if (host == null || host.isEmpty()) {
      throw invalid(uri, "it names no host; use grpc://host:port");
    }
    if (host.startsWith("[") && host.endsWith("]")) {
      host = host.substring(1, host.length() - 1);
    }
    int port = parsed.getPort() < 0 ? DEFAULT_PORT : parsed.getPort();
    return new Target(host, port, scheme.equals("grpcs"));
  }

  /** The {@code host:port} that gRPC dials, with IPv6 hosts in brackets. */
  public String address() {
    return (host.contains(":") ? "[" + host + "]" : host) + ":" + port;
  }

  @Override
  public String toString() {
    return (tls ? "grpcs://" : "grpc://") + address();
  }

  private static InvalidArgumentException invalid(String uri, String why) {
    return (InvalidArgumentException)
        Errors.of(io.grpc.Status.Code.INVALID_ARGUMENT, "tracking URI '" + uri + "': " + why);
  }
}
