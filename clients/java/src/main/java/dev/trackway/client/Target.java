package dev.trackway.client;

import java.net.URI;
import java.net.URISyntaxException;
import java.util.Locale;

/**
 * Where the client dials: a host, a port, whether the URI asked for TLS, and which API it speaks.
 *
 * <p>Tracking URIs are {@code grpc://host:port}, {@code grpcs://host:port} (TLS) or a bare {@code
 * host:port} for the native gRPC API, and {@code http://host:port} or {@code https://host:port}
 * (TLS) for the server's HTTP/JSON API on its HTTP port, optionally below a path prefix that a
 * reverse proxy adds ({@code https://example.com/trackway}), as in the Python SDK. An http(s) URI
 * without a port means port 80 or 443.
 *
 * @param basePath for http(s) URIs, the path the API's {@code /v1/} routes sit below: empty or
 *     {@code /prefix}
 */
public record Target(String host, int port, boolean tls, boolean http, String basePath) {
  /** The variable that names the default tracking URI. */
  public static final String ENV = "TRACKWAY_TRACKING_URI";

  public static final int DEFAULT_PORT = 50051;
  public static final String DEFAULT_URI = "grpc://127.0.0.1:" + DEFAULT_PORT;

  public Target {
    basePath = basePath == null ? "" : basePath;
  }

  /** A gRPC target. */
  public Target(String host, int port, boolean tls) {
    this(host, port, tls, false, "");
  }

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
    String scheme = parsed.getScheme().toLowerCase(Locale.ROOT);
    boolean http = scheme.equals("http") || scheme.equals("https");
    if (!http && !scheme.equals("grpc") && !scheme.equals("grpcs")) {
      throw invalid(
          uri,
          "unsupported scheme "
              + parsed.getScheme()
              + "; use grpc://host:port (the gRPC port) or http://host:port (the HTTP port)");
    }
    String path = parsed.getRawPath() == null ? "" : parsed.getRawPath();
    String prefix = "";
    if (http) {
      if (parsed.getRawQuery() != null || parsed.getRawFragment() != null) {
        throw invalid(uri, "expected " + scheme + "://host:port[/prefix], without a query");
      }
      String trimmed = path.replaceAll("^/+|/+$", "");
      prefix = trimmed.isEmpty() ? "" : "/" + trimmed;
      if (prefix.endsWith("/v1") || prefix.contains("/api/2.0")) {
        throw invalid(
            uri,
            "name the server's root (such as "
                + scheme
                + "://host:5000), not one of its API paths");
      }
    } else if (!path.replace("/", "").isEmpty()
        || parsed.getRawQuery() != null
        || parsed.getRawFragment() != null) {
      throw invalid(uri, "expected grpc://host:port and nothing more");
    }
    if (parsed.getRawUserInfo() != null) {
      throw invalid(uri, "expected " + scheme + "://host:port, without a user");
    }
    String host = parsed.getHost();
    if (host == null || host.isEmpty()) {
      throw invalid(uri, "it names no host; use " + scheme + "://host:port");
    }
    if (host.startsWith("[") && host.endsWith("]")) {
      host = host.substring(1, host.length() - 1);
    }
    boolean tls = scheme.equals("grpcs") || scheme.equals("https");
    int defaultPort = http ? (tls ? 443 : 80) : DEFAULT_PORT;
    int port = parsed.getPort() < 0 ? defaultPort : parsed.getPort();
    return new Target(host, port, tls, http, prefix);
  }

  /** The {@code host:port} that the client dials, with IPv6 hosts in brackets. */
  public String address() {
    return (host.contains(":") ? "[" + host + "]" : host) + ":" + port;
  }

  /** The tracking URI of this target, in its normal form. */
  @Override
  public String toString() {
    String scheme = (http ? "http" : "grpc") + (tls ? "s" : "");
    return scheme + "://" + address() + basePath;
  }

  private static InvalidArgumentException invalid(String uri, String why) {
    return (InvalidArgumentException)
        Errors.of(io.grpc.Status.Code.INVALID_ARGUMENT, "tracking URI '" + uri + "': " + why);
  }
}
