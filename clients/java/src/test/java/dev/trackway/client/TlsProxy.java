package dev.trackway.client;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Path;
import java.security.KeyStore;
import java.util.List;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLServerSocket;

/**
 * Terminates TLS in front of a real server, as a load balancer or ingress would: the Trackway
 * server itself speaks plaintext gRPC. Its certificate, for {@code localhost} and {@code
 * 127.0.0.1}, is made by the JDK's keytool; {@link #certificate()} is the PEM to trust.
 */
final class TlsProxy implements AutoCloseable {
  private static final String PASSWORD = "trackway-test";

  private final SSLServerSocket listener;
  private final Path certificate;
  private final int backendPort;
  private final Thread acceptor;

  TlsProxy(Path dir, int backendPort) throws Exception {
    this.backendPort = backendPort;
    Path keystore = dir.resolve("proxy.p12");
    certificate = dir.resolve("proxy.pem");
    keytool(
        "-genkeypair",
        "-alias",
        "proxy",
        "-keyalg",
        "EC",
        "-groupname",
        "secp256r1",
        "-dname",
        "CN=localhost",
        "-ext",
        "SAN=dns:localhost,ip:127.0.0.1",
        "-validity",
        "2",
        "-keystore",
        keystore.toString(),
        "-storetype",
        "PKCS12",
        "-storepass",
        PASSWORD,
        "-keypass",
        PASSWORD);
    keytool(
        "-exportcert",
        "-rfc",
        "-alias",
        "proxy",
        "-keystore",
        keystore.toString(),
        "-storepass",
        PASSWORD,
        "-file",
        certificate.toString());

    KeyStore keys = KeyStore.getInstance("PKCS12");
    try (InputStream in = java.nio.file.Files.newInputStream(keystore)) {
      keys.load(in, PASSWORD.toCharArray());
    }
    KeyManagerFactory managers =
        KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
    managers.init(keys, PASSWORD.toCharArray());
    SSLContext tls = SSLContext.getInstance("TLS");
    tls.init(managers.getKeyManagers(), null, null);
    listener =
        (SSLServerSocket)
            tls.getServerSocketFactory()
                .createServerSocket(0, 50, InetAddress.getLoopbackAddress());
    SSLParameters parameters = listener.getSSLParameters();
    // gRPC negotiates HTTP/2 through ALPN.
    parameters.setApplicationProtocols(new String[] {"h2"});
    listener.setSSLParameters(parameters);
    acceptor = new Thread(this::accept, "tls-proxy");
    acceptor.setDaemon(true);
    acceptor.start();
  }

  int port() {
    return listener.getLocalPort();
  }

  Path certificate() {
    return certificate;
  }

  private void accept() {
    while (!listener.isClosed()) {
      try {
        Socket client = listener.accept();
        Socket backend = new Socket();
        backend.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), backendPort));
        pump(client, backend);
        pump(backend, client);
      } catch (IOException e) {
        // A closed listener or a refused backend: the client sees its connection drop.
      }
    }
  }

  private static void pump(Socket from, Socket to) {
    Thread thread =
        new Thread(
            () -> {
              try (InputStream in = from.getInputStream();
                  OutputStream out = to.getOutputStream()) {
                in.transferTo(out);
              } catch (IOException e) {
                // The other side went away.
              } finally {
                closeQuietly(from);
                closeQuietly(to);
              }
            },
            "tls-proxy-pump");
    thread.setDaemon(true);
    thread.start();
  }

  private static void closeQuietly(Socket socket) {
    try {
      socket.close();
    } catch (IOException e) {
      // Already closed.
    }
  }

  private static void keytool(String... args) throws Exception {
    Path bin = Path.of(System.getProperty("java.home"), "bin", "keytool");
    List<String> command = new java.util.ArrayList<>(List.of(bin.toString()));
    command.addAll(List.of(args));
    Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
    String output = new String(process.getInputStream().readAllBytes());
    if (!process.waitFor(60, TimeUnit.SECONDS) || process.exitValue() != 0) {
      throw new IllegalStateException("keytool failed: " + output);
    }
  }

  @Override
  public void close() throws IOException {
    listener.close();
  }
}
