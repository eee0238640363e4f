package io.mqrpc.bench;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.rocketmq.client.consumer.DefaultMQPushConsumer;
import org.apache.rocketmq.client.consumer.listener.ConsumeConcurrentlyStatus;
import org.apache.rocketmq.client.consumer.listener.MessageListenerConcurrently;
import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.client.utils.MessageUtil;
import org.apache.rocketmq.common.consumer.ConsumeFromWhere;
import org.apache.rocketmq.common.message.Message;
import org.apache.rocketmq.common.message.MessageExt;

/**
 * RocketMQ's reference request/reply, for mqrpc's benchmarks.
 *
 * <pre>
 * reply NAMESRV TOPIC GROUP   echo every request with MessageUtil.createReplyMessage
 *                             (a body starting with 'D' is answered 300 ms late);
 *                             prints "ready", runs until stdin closes
 * drive NAMESRV TOPIC GROUP   DefaultMQProducer.request(); prints "ready", then reads
 *                             commands from stdin, one JSON line of results each:
 *                             run SIZE CONC N   N calls with a SIZE-byte body
 *                                               (-1: the 3-byte Add arguments) from
 *                                               CONC threads
 * </pre>
 *
 * Only 127.0.0.1 is ever contacted (the name server given and its brokers).
 */
public final class Bench {
  private static final byte[] ADD_ARGS = {(byte) 0x92, 0x02, 0x03}; // msgpack [2, 3]
  private static final long TIMEOUT_MS = 10_000;

  public static void main(String[] a) throws Exception {
    switch (a[0]) {
      case "reply" -> reply(a[1], a[2], a[3]);
      case "drive" -> drive(a[1], a[2], a[3]);
      default -> throw new IllegalArgumentException("unknown mode " + a[0]);
    }
  }

  private static void reply(String namesrv, String topic, String group) throws Exception {
    DefaultMQProducer p = new DefaultMQProducer(group + "_replier");
    p.setNamesrvAddr(namesrv);
    p.setInstanceName(group + "_replier");
    p.start();
    ScheduledExecutorService late = Executors.newSingleThreadScheduledExecutor();
    DefaultMQPushConsumer c = new DefaultMQPushConsumer(group);
    c.setNamesrvAddr(namesrv);
    c.setInstanceName(group);
    c.setConsumeFromWhere(ConsumeFromWhere.CONSUME_FROM_LAST_OFFSET);
    // As many handler threads as the Go servers run handlers (64).
    c.setConsumeThreadMin(64);
    c.setConsumeThreadMax(64);
    c.subscribe(topic, "*");
    c.registerMessageListener((MessageListenerConcurrently) (msgs, ctx) -> {
      for (MessageExt m : msgs) {
        Runnable send = () -> {
          try {
            Message r = MessageUtil.createReplyMessage(m, m.getBody());
            p.send(r);
          } catch (Exception e) {
            System.err.println("reply: " + e);
          }
        };
        byte[] b = m.getBody();
        if (b.length > 0 && b[0] == 'D') {
          late.schedule(send, 300, TimeUnit.MILLISECONDS);
        } else {
          send.run();
        }
      }
      return ConsumeConcurrentlyStatus.CONSUME_SUCCESS;
    });
    c.start();
    System.out.println("ready");
    System.out.flush();
    waitForEOF();
    c.shutdown();
    late.shutdownNow();
    p.shutdown();
  }

  private static void drive(String namesrv, String topic, String group) throws Exception {
    DefaultMQProducer p = new DefaultMQProducer(group);
    p.setNamesrvAddr(namesrv);
    p.setInstanceName(group);
    p.start();
    // The first requests can be lost while the brokers do not know this
    // producer yet (it heartbeats once it has a route); warm up and discard.
    for (int i = 0; i < 200; i++) {
      try {
        p.request(new Message(topic, ADD_ARGS), 3000);
      } catch (Exception e) {
        // expected for the very first calls
      }
    }
    System.out.println("ready");
    System.out.flush();
    BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    String line;
    while ((line = in.readLine()) != null) {
      String[] f = line.trim().split("\\s+");
      if (f.length == 4 && f[0].equals("run")) {
        System.out.println(run(p, topic, Integer.parseInt(f[1]), Integer.parseInt(f[2]), Integer.parseInt(f[3])));
        System.out.flush();
      }
    }
    p.shutdown();
  }

  private static String run(DefaultMQProducer p, String topic, int size, int conc, int n) throws Exception {
    // Pseudo-random bytes, as the Go side uses: they do not compress, and
    // the client compresses bodies over 4 KiB by default.
    byte[] body = size < 0 ? ADD_ARGS : new byte[size];
    if (size > 0) {
      new Random(42).nextBytes(body);
      body[0] = (byte) 'x';
    }
    long[] lat = new long[n];
    AtomicInteger next = new AtomicInteger();
    AtomicLong errors = new AtomicLong();
    CountDownLatch done = new CountDownLatch(conc);
    long start = System.nanoTime();
    for (int t = 0; t < conc; t++) {
      Thread th = new Thread(() -> {
        try {
          for (int i; (i = next.getAndIncrement()) < n; ) {
            long t0 = System.nanoTime();
            try {
              Message r = p.request(new Message(topic, body), TIMEOUT_MS);
              if (r == null || r.getBody() == null || r.getBody().length != body.length) {
                errors.incrementAndGet();
              }
            } catch (Exception e) {
              errors.incrementAndGet();
            }
            lat[i] = System.nanoTime() - t0;
          }
        } finally {
          done.countDown();
        }
      });
      th.start();
    }
    done.await();
    long elapsed = System.nanoTime() - start;
    Arrays.sort(lat);
    return String.format(
        "{\"n\":%d,\"elapsed_ns\":%d,\"p50_ns\":%d,\"p90_ns\":%d,\"p99_ns\":%d,\"errors\":%d}",
        n, elapsed, pct(lat, 50), pct(lat, 90), pct(lat, 99), errors.get());
  }

  private static long pct(long[] sorted, int p) {
    if (sorted.length == 0) {
      return 0;
    }
    int i = (int) Math.ceil(p / 100.0 * sorted.length) - 1;
    return sorted[Math.max(0, Math.min(i, sorted.length - 1))];
  }

  private static void waitForEOF() throws Exception {
    BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    while (in.readLine() != null) {
      // runs until the Go benchmark closes stdin
    }
  }
}
