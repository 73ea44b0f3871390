package dev.trackway.client;

/** {@link RegistryTest} over the HTTP/JSON API: the same calls, the same results. */
class HttpRegistryTest extends RegistryTest implements OverHttp {}
