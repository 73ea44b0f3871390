package dev.trackway.client;

/** {@link ErrorsTest} over the HTTP/JSON API: the same calls, the same results. */
class HttpErrorsTest extends ErrorsTest implements OverHttp {}
