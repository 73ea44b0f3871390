package dev.trackway.client;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A plain TCP proxy in front of a server's HTTP port that records what clients send and, once
 * armed, swallows the answer to the next request whose text contains a marker and closes that
 * connection: the server did the work, the client never hears of it.
 */
final class CuttingProxy implements AutoCloseable {
  private final ServerSocket listener;
  private final int backendPort;
  private final List<String> sent = new CopyOnWriteArrayList<>();
  private final AtomicBoolean armed = new AtomicBoolean();
  private final AtomicInteger cuts = new AtomicInteger();
  private volatile String marker = "";

  CuttingProxy(int backendPort) throws IOException {
    this.backendPort = backendPort;
    this.listener = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
    Thread acceptor = new Thread(this::accept, "cutting-proxy");
    acceptor.setDaemon(true);
    acceptor.start();
  }

  String target() {
    return "http://127.0.0.1:" + listener.getLocalPort();
  }

  /** Cuts the answer to the next request that contains {@code text}. */
  void cutNextAnswerTo(String text) {
    marker = text;
    armed.set(true);
  }

  int cuts() {
    return cuts.get();
  }

  /** The text of what clients sent, as the reads delivered it. */
  List<String> sent() {
    return sent;
  }

  private void accept() {
    while (!listener.isClosed()) {
      try {
        Socket client = listener.accept();
        Socket backend = new Socket();
        backend.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), backendPort));
        AtomicBoolean cutNext = new AtomicBoolean();
        pump(client, backend, cutNext, true);
        pump(backend, client, cutNext, false);
      } catch (IOException e) {
        // A closed listener or a refused backend: the client sees its connection drop.
      }
    }
  }

  private void pump(Socket from, Socket to, AtomicBoolean cutNext, boolean request) {
    Thread thread =
        new Thread(
            () -> {
              try (InputStream in = from.getInputStream();
                  OutputStream out = to.getOutputStream()) {
                byte[] buffer = new byte[1 << 16];
                int n;
                while ((n = in.read(buffer)) > 0) {
                  if (request) {
                    String text = new String(buffer, 0, n, StandardCharsets.ISO_8859_1);
                    sent.add(text);
                    // Set before the request goes on, so that its answer finds it set.
                    if (text.contains(marker) && armed.compareAndSet(true, false)) {
                      cutNext.set(true);
                    }
                  } else if (cutNext.get()) {
                    cuts.incrementAndGet();
                    break;
                  }
                  out.write(buffer, 0, n);
                  out.flush();
                }
              } catch (IOException e) {
                // The other side went away.
              } finally {
                closeQuietly(from);
                closeQuietly(to);
              }
            },
            "cutting-proxy-pump");
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

  @Override
  public void close() throws IOException {
    listener.close();
  }
}
