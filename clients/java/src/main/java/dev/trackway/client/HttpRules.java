package dev.trackway.client;

import com.google.api.AnnotationsProto;
import com.google.api.HttpRule;
import com.google.protobuf.ByteString;
import com.google.protobuf.Descriptors.EnumValueDescriptor;
import com.google.protobuf.Descriptors.FieldDescriptor;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import com.google.protobuf.util.JsonFormat;
import io.grpc.MethodDescriptor;
import io.grpc.protobuf.ProtoMethodDescriptorSupplier;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * A unary RPC's {@code google.api.http} bindings, and the HTTP request they make of a request
 * message: the client's half of the server's {@code /v1/} transcoding.
 *
 * <p>The path's {@code {field}} variables are filled from the message, each percent-encoded as one
 * segment (a {@code {field=**}} variable keeps its {@code /}). With {@code body: "*"} the whole
 * message goes as proto3 JSON (the server lets the path win); without a body every other field that
 * is set goes in the query string ({@code a.b=v} for nested messages, one parameter per item of a
 * repeated field). An RPC with {@code additional_bindings} (one path per artifact scope, say) takes
 * the first binding whose path fields the message sets.
 */
final class HttpRules {
  private static final JsonFormat.Printer JSON =
      JsonFormat.printer().omittingInsignificantWhitespace();

  /** One HTTP request: its method, its path and query below the base path, and its body. */
  record Request(String method, String pathAndQuery, byte[] body) {}

  /** A field that a binding's path needs is empty: no URL can be built from that binding. */
  static final class MissingPathField extends Exception {
    MissingPathField(String field) {
      super(field + " is required");
    }
  }

  private final List<HttpRule> bindings;

  private HttpRules(List<HttpRule> bindings) {
    this.bindings = bindings;
  }

  /** The bindings of a method generated from the protos; none when it has no HTTP form. */
  static HttpRules of(MethodDescriptor<?, ?> method) {
    List<HttpRule> found = new ArrayList<>();
    if (method.getType() == MethodDescriptor.MethodType.UNARY
        && method.getSchemaDescriptor() instanceof ProtoMethodDescriptorSupplier supplier) {
      var options = supplier.getMethodDescriptor().getOptions();
      if (options.hasExtension(AnnotationsProto.http)) {
        HttpRule rule = options.getExtension(AnnotationsProto.http);
        found.add(rule);
        found.addAll(rule.getAdditionalBindingsList());
      }
    }
    return new HttpRules(List.copyOf(found));
  }

  boolean isEmpty() {
    return bindings.isEmpty();
  }

  /** The request by the first binding whose path fields the message sets. */
  Request encode(Message message) throws MissingPathField {
    for (int i = 0; i < bindings.size() - 1; i++) {
      try {
        return encode(bindings.get(i), message);
      } catch (MissingPathField tryTheNext) {
        // One binding per scope: the next may fit.
      }
    }
    return encode(bindings.get(bindings.size() - 1), message);
  }

  private static Request encode(HttpRule rule, Message message) throws MissingPathField {
    String template;
    String method;
    switch (rule.getPatternCase()) {
      case GET -> {
        method = "GET";
        template = rule.getGet();
      }
      case PUT -> {
        method = "PUT";
        template = rule.getPut();
      }
      case POST -> {
        method = "POST";
        template = rule.getPost();
      }
      case DELETE -> {
        method = "DELETE";
        template = rule.getDelete();
      }
      case PATCH -> {
        method = "PATCH";
        template = rule.getPatch();
      }
      case CUSTOM -> {
        method = rule.getCustom().getKind();
        template = rule.getCustom().getPath();
      }
      default -> throw new IllegalStateException("an http rule without a pattern: " + rule);
    }
    Set<String> bound = new TreeSet<>();
    String path = expand(template, message, bound);
    String body = rule.getBody();
    if (body.equals("*")) {
      return new Request(method, path, json(message));
    }
    byte[] bytes = null;
    if (!body.isEmpty()) {
      FieldDescriptor field = message.getDescriptorForType().findFieldByName(body);
      bytes = message.hasField(field) ? json((Message) message.getField(field)) : "{}".getBytes();
      bound.add(body);
    }
    List<String> query = new ArrayList<>();
    for (Map.Entry<FieldDescriptor, Object> entry : message.getAllFields().entrySet()) {
      if (!bound.contains(entry.getKey().getName())) {
        flatten(entry.getKey().getJsonName(), entry.getKey(), entry.getValue(), query);
      }
    }
    return new Request(
        method, query.isEmpty() ? path : path + "?" + String.join("&", query), bytes);
  }

  /** The template with its variables filled in; their top-level fields go into {@code bound}. */
  private static String expand(String template, Message message, Set<String> bound)
      throws MissingPathField {
    StringBuilder path = new StringBuilder();
    int i = 0;
    while (i < template.length()) {
      char c = template.charAt(i);
      if (c != '{') {
        path.append(c);
        i++;
        continue;
      }
      int end = template.indexOf('}', i);
      String variable = template.substring(i + 1, end);
      int eq = variable.indexOf('=');
      String field = eq < 0 ? variable : variable.substring(0, eq);
      boolean keepSlashes = eq >= 0 && variable.substring(eq + 1).contains("**");
      String value = fieldText(message, field);
      if (value.isEmpty()) {
        throw new MissingPathField(field);
      }
      bound.add(field.split("\\.")[0]);
      path.append(percentEncode(value, keepSlashes));
      i = end + 1;
    }
    return path.toString();
  }

  /** The text of a (possibly nested, {@code a.b}) scalar field; empty when it is not set. */
  private static String fieldText(Message message, String fieldPath) {
    Object value = message;
    for (String name : fieldPath.split("\\.")) {
      Message current = (Message) value;
      FieldDescriptor field = current.getDescriptorForType().findFieldByName(name);
      if (field == null) {
        throw new IllegalStateException("no field " + fieldPath + " in " + message.getClass());
      }
      value = current.getField(field);
    }
    return value instanceof EnumValueDescriptor e ? e.getName() : String.valueOf(value);
  }

  private static void flatten(String key, FieldDescriptor field, Object value, List<String> out) {
    if (value instanceof List<?> items) {
      for (Object item : items) {
        flatten(key, field, item, out);
      }
      return;
    }
    String text;
    if (value instanceof Message nested) {
      if (!nested.getDescriptorForType().getFullName().startsWith("google.protobuf.")) {
        for (Map.Entry<FieldDescriptor, Object> entry : nested.getAllFields().entrySet()) {
          flatten(key + "." + entry.getKey().getJsonName(), entry.getKey(), entry.getValue(), out);
        }
        return;
      }
      // Well-known types (Timestamp, FieldMask, wrappers) have a JSON string or number form.
      text = new String(json(nested), StandardCharsets.UTF_8).replaceAll("^\"|\"$", "");
    } else if (value instanceof EnumValueDescriptor e) {
      text = e.getName();
    } else if (value instanceof ByteString bytes) {
      text = Base64.getEncoder().encodeToString(bytes.toByteArray());
    } else {
      text = String.valueOf(value);
    }
    out.add(formEncode(key) + "=" + formEncode(text));
  }

  private static byte[] json(Message message) {
    try {
      return JSON.print(message).getBytes(StandardCharsets.UTF_8);
    } catch (InvalidProtocolBufferException e) {
      throw new IllegalStateException("cannot write " + message.getClass() + " as JSON", e);
    }
  }

  private static String formEncode(String text) {
    return URLEncoder.encode(text, StandardCharsets.UTF_8);
  }

  /** RFC 3986 percent-encoding of everything but unreserved characters (and {@code /}). */
  static String percentEncode(String text, boolean keepSlashes) {
    StringBuilder out = new StringBuilder();
    for (byte b : text.getBytes(StandardCharsets.UTF_8)) {
      int c = b & 0xff;
      if ((c >= 'a' && c <= 'z')
          || (c >= 'A' && c <= 'Z')
          || (c >= '0' && c <= '9')
          || c == '-'
          || c == '.'
          || c == '_'
          || c == '~'
          || (keepSlashes && c == '/')) {
        out.append((char) c);
      } else {
        out.append('%').append(Character.toUpperCase(Character.forDigit(c >> 4, 16)));
        out.append(Character.toUpperCase(Character.forDigit(c & 0xf, 16)));
      }
    }
    return out.toString();
  }
}
