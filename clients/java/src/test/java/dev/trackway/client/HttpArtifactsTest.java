package dev.trackway.client;

/**
 * {@link ArtifactsTest} over the HTTP/JSON API: the bytes through the PUT and GET routes, the rest
 * through the unary RPCs, with the same results.
 */
class HttpArtifactsTest extends ArtifactsTest implements OverHttp {}
