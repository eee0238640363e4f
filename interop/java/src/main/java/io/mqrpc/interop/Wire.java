package io.mqrpc.interop;

import com.alibaba.fastjson2.JSON;
import com.alibaba.fastjson2.JSONObject;
import java.io.IOException;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.stream.Stream;
import org.msgpack.core.MessageBufferPacker;
import org.msgpack.core.MessagePack;
import org.msgpack.core.MessageUnpacker;
import org.msgpack.value.ValueType;

/**
 * mqrpc's wire rules (docs/PROTOCOL.md) as a plain Java program applies
 * them with msgpack-java: bodies are msgpack values, JSON stands in for the
 * decoded values (integers, float64 with a fraction, strings, arrays, maps
 * with string keys in field order, null, booleans).
 */
public final class Wire {
  public static final String EMPTY_BODY = "mqrpc-empty-body";
  public static final String STATUS = "mqrpc-status";
  public static final String MESSAGE = "mqrpc-message";

  private Wire() {}

  /** Encodes a JSON value as msgpack, integers in their smallest form. */
  public static byte[] encode(Object value) {
    try (MessageBufferPacker p = MessagePack.newDefaultBufferPacker()) {
      pack(p, value);
      return p.toByteArray();
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }

  private static void pack(MessageBufferPacker p, Object v) throws IOException {
    if (v == null) {
      p.packNil();
    } else if (v instanceof Boolean b) {
      p.packBoolean(b);
    } else if (v instanceof Integer || v instanceof Long || v instanceof Short || v instanceof Byte) {
      p.packLong(((Number) v).longValue());
    } else if (v instanceof BigInteger i) {
      p.packBigInteger(i);
    } else if (v instanceof Number n) { // BigDecimal, Double, Float: Go's float64
      p.packDouble(n.doubleValue());
    } else if (v instanceof String s) {
      p.packString(s);
    } else if (v instanceof List<?> l) {
      p.packArrayHeader(l.size());
      for (Object e : l) {
        pack(p, e);
      }
    } else if (v instanceof Map<?, ?> m) {
      p.packMapHeader(m.size());
      for (Map.Entry<?, ?> e : m.entrySet()) {
        pack(p, e.getKey());
        pack(p, e.getValue());
      }
    } else {
      throw new IllegalArgumentException("cannot encode " + v.getClass());
    }
  }

  /** Decodes one msgpack value; the whole body must be that value. */
  public static Object decode(byte[] body) {
    try (MessageUnpacker u = MessagePack.newDefaultUnpacker(body)) {
      Object v = unpack(u);
      if (u.hasNext()) {
        throw new IllegalArgumentException("trailing bytes after the msgpack value");
      }
      return v;
    } catch (IOException e) {
      throw new IllegalArgumentException(e);
    }
  }

  private static Object unpack(MessageUnpacker u) throws IOException {
    ValueType t = u.getNextFormat().getValueType();
    switch (t) {
      case NIL:
        u.unpackNil();
        return null;
      case BOOLEAN:
        return u.unpackBoolean();
      case INTEGER:
        BigInteger i = u.unpackBigInteger();
        return i.bitLength() < 64 ? (Object) i.longValue() : i;
      case FLOAT:
        return u.unpackDouble();
      case STRING:
        return u.unpackString();
      case BINARY:
        return HexFormat.of().formatHex(u.readPayload(u.unpackBinaryHeader()));
      case ARRAY: {
        int n = u.unpackArrayHeader();
        List<Object> l = new ArrayList<>(n);
        for (int k = 0; k < n; k++) {
          l.add(unpack(u));
        }
        return l;
      }
      case MAP: {
        int n = u.unpackMapHeader();
        Map<Object, Object> m = new LinkedHashMap<>();
        for (int k = 0; k < n; k++) {
          m.put(unpack(u), unpack(u));
        }
        return m;
      }
      default:
        throw new IllegalArgumentException("unsupported msgpack type " + t);
    }
  }

  /** Puts JSON-parsed and msgpack-decoded values in one form for equals. */
  public static Object normalize(Object v) {
    if (v instanceof Integer || v instanceof Long || v instanceof Short || v instanceof Byte) {
      return ((Number) v).longValue();
    }
    if (v instanceof BigInteger i) {
      return i.bitLength() < 64 ? (Object) i.longValue() : i;
    }
    if (v instanceof BigDecimal || v instanceof Float) {
      return ((Number) v).doubleValue();
    }
    if (v instanceof List<?> l) {
      return l.stream().map(Wire::normalize).toList();
    }
    if (v instanceof Map<?, ?> m) {
      Map<Object, Object> out = new LinkedHashMap<>();
      m.forEach((k, e) -> out.put(normalize(k), normalize(e)));
      return out;
    }
    return v;
  }

  /**
   * The body a sender meant: empty when the message carries
   * mqrpc-empty-body (RocketMQ refuses empty bodies, so one zero byte
   * travels instead).
   */
  public static byte[] logicalBody(Map<String, String> props, byte[] body) {
    if (props.get(EMPTY_BODY) != null && !props.get(EMPTY_BODY).isEmpty()) {
      return new byte[0];
    }
    return body == null ? new byte[0] : body;
  }

  public static String hex(byte[] b) {
    return HexFormat.of().formatHex(b == null ? new byte[0] : b);
  }

  /** Lists the vector files of dir in name order. */
  public static List<Path> vectorFiles(Path dir) throws IOException {
    try (Stream<Path> s = Files.list(dir)) {
      return s.filter(p -> p.toString().endsWith(".json")).sorted().toList();
    }
  }

  /**
   * Checks one golden vector from the Java side: its body decodes with
   * msgpack-java to its decoded meaning, and encoding that meaning gives the
   * body's bytes again. Throws AssertionError on any difference.
   */
  public static void checkVector(Path file) throws IOException {
    JSONObject v = JSON.parseObject(Files.readString(file));
    String name = v.getString("name");
    JSONObject jp = v.getJSONObject("properties");
    Map<String, String> props = new LinkedHashMap<>();
    jp.forEach((k, e) -> props.put(k, String.valueOf(e)));
    byte[] wire = HexFormat.of().parseHex(v.getString("body_hex"));
    if (props.containsKey(EMPTY_BODY) && !Arrays.equals(wire, new byte[] {0})) {
      throw new AssertionError(name + ": mqrpc-empty-body is set but the body is not one zero byte");
    }
    byte[] body = logicalBody(props, wire);
    Object meaning = v.containsKey("args") ? v.get("args") : v.get("results");
    if (v.containsKey("status")) {
      JSONObject st = v.getJSONObject("status");
      check(name, "mqrpc-status", st.getString("code"), props.get(STATUS));
      check(name, "mqrpc-message", st.getString("message"), props.get(MESSAGE));
      check(name, "details", st.getString("details_hex"), hex(body));
      return;
    }
    if (meaning == null) {
      throw new AssertionError(name + ": vector has no args, results or status");
    }
    check(name, "encoded body", hex(body), hex(encode(meaning)));
    check(name, "decoded body", JSON.toJSONString(normalize(meaning)), JSON.toJSONString(normalize(decode(body))));
    if (!Objects.equals(normalize(meaning), normalize(decode(body)))) {
      throw new AssertionError(name + ": decoded body differs in type from " + meaning);
    }
  }

  private static void check(String name, String what, String want, String got) {
    if (!Objects.equals(want, got)) {
      throw new AssertionError(name + ": " + what + " is " + got + ", want " + want);
    }
  }
}
