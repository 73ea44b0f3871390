package dev.trackway.client;

import org.junit.jupiter.api.TestInfo;

/**
 * Marks a test class that runs the tests of its superclass over the HTTP/JSON API: the superclass's
 * {@code @BeforeAll} asks {@link #builder} for its client.
 */
interface OverHttp {
  /** A client of {@code server} over the transport of the test class at hand. */
  static TrackwayClient.Builder builder(TrackwayServer server, TestInfo test) {
    boolean http = test.getTestClass().map(OverHttp.class::isAssignableFrom).orElse(false);
    return http ? server.httpClient() : server.client();
  }
}
