package dev.trackway.client;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import com.google.protobuf.util.JsonFormat;
import io.grpc.CallOptions;
import io.grpc.ClientCall;
import io.grpc.Deadline;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * One unary call over HTTP: the request message is sent when the caller half-closes, and the answer
 * (or the error) is delivered to the listener on the call's executor, as gRPC does, so that
 * blocking, future and async stubs all work.
 */
final class HttpUnaryCall<Q, R> extends ClientCall<Q, R> {
  private static final JsonFormat.Parser JSON = JsonFormat.parser().ignoringUnknownFields();

  private final HttpChannel channel;
  private final MethodDescriptor<Q, R> method;
  private final CallOptions options;
  private final AtomicBoolean closed = new AtomicBoolean();
  private Listener<R> listener;
  private Metadata headers;
  private Q message;
  private volatile CompletableFuture<?> inFlight;

  HttpUnaryCall(HttpChannel channel, MethodDescriptor<Q, R> method, CallOptions options) {
    this.channel = channel;
    this.method = method;
    this.options = options;
  }

  @Override
  public void start(Listener<R> responseListener, Metadata requestHeaders) {
    this.listener = responseListener;
    this.headers = requestHeaders;
  }

  @Override
  public void request(int numMessages) {
    // One answer comes, whatever is asked for.
  }

  @Override
  public void sendMessage(Q request) {
    this.message = request;
  }

  @Override
  public void halfClose() {
    HttpRules rules = channel.rules(method);
    if (rules.isEmpty()) {
      finish(HttpChannel.grpcOnly(method));
      return;
    }
    HttpRules.Request call;
    try {
      call = rules.encode((Message) message);
    } catch (HttpRules.MissingPathField e) {
      finish(Status.INVALID_ARGUMENT.withDescription(e.getMessage()).asRuntimeException());
      return;
    }
    HttpRequest.Builder request;
    try {
      request = channel.newRequest(call.pathAndQuery());
    } catch (StatusRuntimeException e) {
      finish(e);
      return;
    }
    Deadline deadline = options.getDeadline();
    if (deadline != null) {
      long nanos = deadline.timeRemaining(TimeUnit.NANOSECONDS);
      if (nanos <= 0) {
        finish(
            Status.DEADLINE_EXCEEDED.withDescription("the deadline passed").asRuntimeException());
        return;
      }
      request.timeout(Duration.ofNanos(nanos));
    }
    HttpChannel.copyHeaders(headers, request);
    if (call.body() == null) {
      request.method(call.method(), HttpRequest.BodyPublishers.noBody());
    } else {
      request.setHeader("Content-Type", "application/json");
      request.method(call.method(), HttpRequest.BodyPublishers.ofByteArray(call.body()));
    }
    inFlight =
        channel
            .client()
            .sendAsync(request.build(), HttpResponse.BodyHandlers.ofByteArray())
            .whenComplete(this::deliver);
  }

  @Override
  public void cancel(String why, Throwable cause) {
    CompletableFuture<?> pending = inFlight;
    if (pending != null) {
      pending.cancel(true);
    }
    finish(Status.CANCELLED.withDescription(why).withCause(cause).asRuntimeException());
  }

  private Executor executor() {
    Executor given = options.getExecutor();
    return given != null ? given : Runnable::run;
  }

  /** Runs on the HTTP client's thread; the listener hears of it on the call's executor. */
  private void deliver(HttpResponse<byte[]> response, Throwable failure) {
    if (failure != null) {
      finish(HttpErrors.fromFailure(failure));
      return;
    }
    byte[] body = response.body();
    if (response.statusCode() / 100 != 2) {
      finish(HttpErrors.fromAnswer(response.statusCode(), body));
      return;
    }
    if (body.length > channel.maxMessageBytes()) {
      finish(
          Status.RESOURCE_EXHAUSTED
              .withDescription(
                  "the answer has "
                      + body.length
                      + " bytes, more than the limit of "
                      + channel.maxMessageBytes())
              .asRuntimeException());
      return;
    }
    R reply;
    try {
      reply = parse(body);
    } catch (InvalidProtocolBufferException | RuntimeException e) {
      finish(
          Status.INTERNAL
              .withDescription(
                  "the server's answer is not a "
                      + method.getFullMethodName()
                      + " response: "
                      + e.getMessage())
              .withCause(e)
              .asRuntimeException());
      return;
    }
    if (closed.compareAndSet(false, true)) {
      Listener<R> target = listener;
      executor()
          .execute(
              () -> {
                target.onHeaders(new Metadata());
                target.onMessage(reply);
                target.onClose(Status.OK, new Metadata());
              });
    }
  }

  @SuppressWarnings("unchecked")
  private R parse(byte[] body) throws InvalidProtocolBufferException {
    if (!(method.getResponseMarshaller()
        instanceof MethodDescriptor.PrototypeMarshaller<?> proto)) {
      throw new IllegalStateException(method.getFullMethodName() + " has no protobuf marshaller");
    }
    Message.Builder builder = ((Message) proto.getMessagePrototype()).newBuilderForType();
    String json = body.length == 0 ? "{}" : new String(body, StandardCharsets.UTF_8);
    JSON.merge(json, builder);
    return (R) builder.build();
  }

  private void finish(StatusRuntimeException error) {
    if (closed.compareAndSet(false, true)) {
      Metadata trailers = error.getTrailers() == null ? new Metadata() : error.getTrailers();
      Listener<R> target = listener;
      executor().execute(() -> target.onClose(error.getStatus(), trailers));
    }
  }
}
