package dev.trackway.client;

/** {@link TrackingTest} over the HTTP/JSON API: the same calls, the same results. */
class HttpTrackingTest extends TrackingTest implements OverHttp {}
