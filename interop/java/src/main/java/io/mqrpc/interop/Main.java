package io.mqrpc.interop;

import com.alibaba.fastjson2.JSON;
import com.alibaba.fastjson2.JSONObject;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.apache.rocketmq.client.consumer.DefaultMQPushConsumer;
import org.apache.rocketmq.client.consumer.listener.ConsumeConcurrentlyStatus;
import org.apache.rocketmq.client.consumer.listener.MessageListenerConcurrently;
import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.client.producer.SendResult;
import org.apache.rocketmq.client.utils.MessageUtil;
import org.apache.rocketmq.common.consumer.ConsumeFromWhere;
import org.apache.rocketmq.common.message.Message;
import org.apache.rocketmq.common.message.MessageExt;
import org.apache.rocketmq.common.message.MessageQueue;
import org.apache.rocketmq.common.topic.TopicValidator;

/**
 * Plain RocketMQ programs that talk to mqrpc services and clients, run by the
 * Go tests in interop/. Each writes one JSON object per line on stdout.
 *
 * <pre>
 * call NAMESRV GROUP TOPIC SPEC...   DefaultMQProducer.request() per SPEC, print each reply
 * reply NAMESRV GROUP TOPIC          serve a calculator with MessageUtil.createReplyMessage
 *                                    until stdin closes
 * send NAMESRV GROUP TOPIC SPEC...   one-way sends
 * vectors DIR                        check testdata/wire with msgpack-java
 * </pre>
 *
 * A SPEC is JSON: {"tag": "Add", "args": [2, 3], "properties": {...}}; the
 * body is the msgpack encoding of args.
 */
public final class Main {
  /**
   * Send and request timeout unless a SPEC gives one. The library's default (3 s) also covers the
   * first route lookup, which a loaded CI machine can take longer than.
   */
  private static final long SEND_TIMEOUT_MS = 20_000;
  private Main() {}

  public static void main(String[] args) throws Exception {
    if (args.length == 0) {
      usage();
    }
    String[] rest = Arrays.copyOfRange(args, 1, args.length);
    switch (args[0]) {
      case "call" -> call(need(rest, 3));
      case "reply" -> reply(need(rest, 3));
      case "send" -> send(need(rest, 3));
      case "vectors" -> vectors(need(rest, 1));
      default -> usage();
    }
    System.exit(0); // the client's threads are not all daemons
  }

  private static String[] need(String[] args, int n) {
    if (args.length < n) {
      usage();
    }
    return args;
  }

  private static void usage() {
    System.err.println("usage: Main call|reply|send NAMESRV GROUP TOPIC [SPEC...] | vectors DIR");
    System.exit(2);
  }

  static synchronized void emit(Map<String, ?> line) {
    System.out.println(JSON.toJSONString(line));
    System.out.flush();
  }

  private static DefaultMQProducer producer(String namesrv, String group) throws Exception {
    DefaultMQProducer p = new DefaultMQProducer(group);
    p.setNamesrvAddr(namesrv);
    p.setInstanceName(group);
    p.start();
    return p;
  }

  private static Message message(String topic, JSONObject spec) {
    Message m = new Message(topic, spec.getString("tag"), Wire.encode(spec.get("args")));
    JSONObject props = spec.getJSONObject("properties");
    if (props != null) {
      props.forEach((k, v) -> m.putUserProperty(k, String.valueOf(v)));
    }
    return m;
  }

  /** Calls an mqrpc server the way any Java service would: request() and msgpack. */
  private static void call(String[] a) throws Exception {
    DefaultMQProducer p = producer(a[0], a[1]);
    try {
      for (String s : Arrays.copyOfRange(a, 3, a.length)) {
        JSONObject spec = JSON.parseObject(s);
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("tag", spec.getString("tag"));
        try {
          Message reply = p.request(message(a[2], spec), spec.getLongValue("timeout_ms", SEND_TIMEOUT_MS));
          Map<String, String> props = new TreeMap<>(reply.getProperties());
          byte[] body = Wire.logicalBody(props, reply.getBody());
          String status = props.getOrDefault(Wire.STATUS, "0");
          out.put("topic", reply.getTopic());
          out.put("properties", props);
          out.put("body_hex", Wire.hex(reply.getBody()));
          out.put("status", status);
          out.put("message", props.getOrDefault(Wire.MESSAGE, ""));
          if (status.equals("0") && body.length > 0) {
            out.put("results", Wire.decode(body));
          }
        } catch (Exception e) {
          out.put("error", e.toString());
        }
        emit(out);
      }
    } finally {
      p.shutdown();
    }
  }

  /** One-way sends: plain producer.send, no reply expected. */
  private static void send(String[] a) throws Exception {
    DefaultMQProducer p = producer(a[0], a[1]);
    try {
      for (String s : Arrays.copyOfRange(a, 3, a.length)) {
        JSONObject spec = JSON.parseObject(s);
        SendResult r = p.send(message(a[2], spec), spec.getLongValue("timeout_ms", SEND_TIMEOUT_MS));
        emit(Map.of("tag", spec.getString("tag"), "send_status", r.getSendStatus().name(), "msg_id", r.getMsgId()));
      }
    } finally {
      p.shutdown();
    }
  }

  /**
   * A plain Java replier for the calculator: arguments are a msgpack array,
   * an OK reply is MessageUtil.createReplyMessage with the msgpack array of
   * results and no mqrpc property at all; a failure sets mqrpc-status and
   * mqrpc-message and sends an empty body by the mqrpc-empty-body rule.
   */
  private static void reply(String[] a) throws Exception {
    String namesrv = a[0], group = a[1], topic = a[2];
    DefaultMQProducer p = producer(namesrv, group + "_replier");
    // Create the topic on every broker (as TBW102 is) and wait for its
    // route, so that the consumer starts with all of its queues.
    int brokers = brokersOf(p.fetchPublishMessageQueues(TopicValidator.AUTO_CREATE_TOPIC_KEY_TOPIC));
    p.createTopic(TopicValidator.AUTO_CREATE_TOPIC_KEY_TOPIC, topic, 4, null);
    long until = System.currentTimeMillis() + 30_000;
    while (true) {
      try {
        if (brokersOf(p.fetchPublishMessageQueues(topic)) >= brokers) {
          break;
        }
      } catch (Exception e) {
        if (System.currentTimeMillis() > until) {
          throw e;
        }
      }
      if (System.currentTimeMillis() > until) {
        throw new IllegalStateException("topic " + topic + " not routed on " + brokers + " brokers");
      }
      Thread.sleep(50); // polling the name server for a condition
    }

    DefaultMQPushConsumer c = new DefaultMQPushConsumer(group);
    c.setNamesrvAddr(namesrv);
    c.setInstanceName(group);
    c.setConsumeFromWhere(ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET);
    c.subscribe(topic, "*");
    c.registerMessageListener((MessageListenerConcurrently) (msgs, ctx) -> {
      for (MessageExt m : msgs) {
        try {
          answer(p, m);
        } catch (Exception e) {
          emit(Map.of("event", "error", "error", e.toString()));
        }
      }
      return ConsumeConcurrentlyStatus.CONSUME_SUCCESS;
    });
    c.start();
    emit(Map.of("event", "ready", "brokers", brokers));
    BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    while (in.readLine() != null) {
      // runs until the Go test closes stdin
    }
    c.shutdown();
    p.shutdown();
  }

  private static int brokersOf(List<MessageQueue> qs) {
    return (int) qs.stream().map(MessageQueue::getBrokerName).distinct().count();
  }

  private static void answer(DefaultMQProducer p, MessageExt m) throws Exception {
    Map<String, Object> got = new LinkedHashMap<>();
    got.put("event", "request");
    got.put("topic", m.getTopic());
    got.put("tag", m.getTags());
    got.put("keys", m.getKeys());
    got.put("properties", new TreeMap<>(m.getProperties()));
    got.put("body_hex", Wire.hex(m.getBody()));
    emit(got);

    List<?> args = (List<?>) Wire.decode(Wire.logicalBody(m.getProperties(), m.getBody()));
    String status = null;
    String text = null;
    List<Object> results = null;
    switch (m.getTags() == null ? "" : m.getTags()) {
      case "Add" -> results = List.of(num(args, 0) + num(args, 1));
      case "Sub" -> results = List.of(num(args, 0) - num(args, 1));
      case "Mul" -> results = List.of(num(args, 0) * num(args, 1));
      case "Div" -> {
        if (num(args, 1) == 0) {
          status = "3"; // InvalidArgument
          text = "division of " + num(args, 0) + " by zero";
        } else {
          results = List.of(num(args, 0) / num(args, 1), num(args, 0) % num(args, 1));
        }
      }
      default -> {
        status = "12"; // Unimplemented
        text = "the Java replier has no method " + m.getTags();
      }
    }
    Message r;
    if (status == null) {
      r = MessageUtil.createReplyMessage(m, Wire.encode(results));
    } else {
      r = MessageUtil.createReplyMessage(m, new byte[] {0});
      r.putUserProperty(Wire.EMPTY_BODY, "1");
      r.putUserProperty(Wire.STATUS, status);
      r.putUserProperty(Wire.MESSAGE, text);
    }
    SendResult sr = p.send(r, SEND_TIMEOUT_MS);
    emit(Map.of("event", "replied", "tag", m.getTags(), "send_status", sr.getSendStatus().name()));
  }

  private static long num(List<?> args, int i) {
    return ((Number) args.get(i)).longValue();
  }

  private static void vectors(String[] a) throws Exception {
    boolean ok = true;
    for (Path f : Wire.vectorFiles(Path.of(a[0]))) {
      Map<String, Object> out = new LinkedHashMap<>();
      out.put("file", f.getFileName().toString());
      try {
        Wire.checkVector(f);
        out.put("ok", true);
      } catch (AssertionError | Exception e) {
        ok = false;
        out.put("ok", false);
        out.put("error", e.getMessage());
      }
      emit(out);
    }
    if (!ok) {
      System.exit(1);
    }
  }
}
