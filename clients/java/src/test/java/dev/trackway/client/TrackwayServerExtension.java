package dev.trackway.client;

import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.ParameterContext;
import org.junit.jupiter.api.extension.ParameterResolver;

/**
 * Gives tests a {@link TrackwayServer} shared by the whole run: started at first use, killed when
 * the run ends. Tests that restart or break their server start their own.
 */
public final class TrackwayServerExtension implements ParameterResolver {
  @Override
  public boolean supportsParameter(ParameterContext parameter, ExtensionContext context) {
    return parameter.getParameter().getType() == TrackwayServer.class;
  }

  @Override
  public Object resolveParameter(ParameterContext parameter, ExtensionContext context) {
    return context
        .getRoot()
        .getStore(ExtensionContext.Namespace.create(TrackwayServerExtension.class))
        .getOrComputeIfAbsent("server", key -> new Shared(TrackwayServer.start()), Shared.class)
        .server;
  }

  /** Closed by JUnit when the root context (the run) ends, as an AutoCloseable in its store. */
  private record Shared(TrackwayServer server) implements AutoCloseable {
    @Override
    public void close() {
      server.close();
    }
  }
}
