package transporttest

import (
	"context"
	"errors"
	"maps"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mqrpc/mqrpc/runtime"
)

// These tests hold a transport to its contract on raw messages, with no
// runtime.Client or Server in between.

// replySink collects the replies a transport delivers.
func replySink(t *testing.T, tr runtime.Transport) chan *runtime.Message {
	t.Helper()
	ch := make(chan *runtime.Message, 16)
	if err := tr.ListenReplies(func(m *runtime.Message) {
		select {
		case ch <- m:
		default:
			t.Errorf("reply sink full, dropped %q", m.Properties[runtime.PropCorrelationID])
		}
	}); err != nil {
		t.Fatalf("ListenReplies: %v", err)
	}
	return ch
}

func receive[T any](t *testing.T, cfg *Config, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(cfg.Patience):
		t.Fatalf("no %s within %v", what, cfg.Patience)
		var zero T
		return zero
	}
}

// subscribe consumes topic and forwards every message to the returned
// channel.
func subscribe(t *testing.T, tr runtime.Transport, topic, group string) chan *runtime.Message {
	t.Helper()
	ch := make(chan *runtime.Message, 64)
	sub, err := tr.Subscribe(topic, group, func(_ context.Context, m *runtime.Message) error {
		ch <- m
		return nil
	})
	if err != nil {
		t.Fatalf("Subscribe: %v", err)
	}
	t.Cleanup(func() { _ = sub.Stop() })
	return ch
}

// allBytes is a body holding every byte value, so that no encoding on the
// way can pass unnoticed.
func allBytes() []byte {
	b := make([]byte, 0, 512)
	for i := range 512 {
		b = append(b, byte(i*7))
	}
	return b
}

func rawRequest(topic, id string, body []byte, props map[string]string) *runtime.Message {
	p := map[string]string{runtime.PropCorrelationID: id}
	maps.Copy(p, props)
	return &runtime.Message{Topic: topic, Tag: "Raw", Key: id, Properties: p, Body: body}
}

func testMessageRoundTrip(t *testing.T, cfg *Config) {
	client, server := newTransport(t, cfg), newTransport(t, cfg)
	topic := uniqueTopic(t)
	replies := replySink(t, client)
	requests := subscribe(t, server, topic, runtime.GroupFor(topic))

	props := map[string]string{"k-ascii": "v", "k-unicode": "héllo, 世界", "k-empty": "", "k-long": string(make([]byte, 0)) + "x"}
	body := allBytes()
	if err := client.Request(context.Background(), rawRequest(topic, "call-1", body, props)); err != nil {
		t.Fatalf("Request: %v", err)
	}
	req := receive(t, cfg, requests, "request")
	if string(req.Body) != string(body) {
		t.Errorf("request body changed on the way: got %d bytes, want %d", len(req.Body), len(body))
	}
	for k, v := range props {
		if req.Properties[k] != v {
			t.Errorf("request property %q = %q, want %q", k, req.Properties[k], v)
		}
	}
	if req.Tag != "Raw" || req.Topic != topic {
		t.Errorf("request topic/tag = %q/%q, want %q/Raw", req.Topic, req.Tag, topic)
	}

	replyBody := append([]byte{0}, allBytes()...)
	reply := &runtime.Message{Properties: map[string]string{runtime.PropCorrelationID: "call-1", runtime.PropStatus: "3", "k-unicode": "ответ"}, Body: replyBody}
	if err := server.Reply(context.Background(), req, reply); err != nil {
		t.Fatalf("Reply: %v", err)
	}
	got := receive(t, cfg, replies, "reply")
	if string(got.Body) != string(replyBody) {
		t.Errorf("reply body changed on the way: got %d bytes, want %d", len(got.Body), len(replyBody))
	}
	for k, v := range reply.Properties {
		if got.Properties[k] != v {
			t.Errorf("reply property %q = %q, want %q", k, got.Properties[k], v)
		}
	}
}

func testReplyReachesItsOwnClient(t *testing.T, cfg *Config) {
	server := newTransport(t, cfg)
	topic := uniqueTopic(t)
	requests := subscribe(t, server, topic, runtime.GroupFor(topic))
	const clients = 3
	sinks := make([]chan *runtime.Message, clients)
	for i := range clients {
		tr := newTransport(t, cfg)
		sinks[i] = replySink(t, tr)
		id := string(rune('a' + i))
		if err := tr.Request(context.Background(), rawRequest(topic, id, []byte(id), nil)); err != nil {
			t.Fatalf("Request: %v", err)
		}
	}
	for range clients {
		req := receive(t, cfg, requests, "request")
		id := req.Properties[runtime.PropCorrelationID]
		reply := &runtime.Message{Properties: map[string]string{runtime.PropCorrelationID: id}, Body: req.Body}
		if err := server.Reply(context.Background(), req, reply); err != nil {
			t.Fatalf("Reply: %v", err)
		}
	}
	for i, sink := range sinks {
		got := receive(t, cfg, sink, "reply")
		if want := string(rune('a' + i)); string(got.Body) != want {
			t.Errorf("client %d got the reply for %q", i, got.Body)
		}
	}
}

func testSendIsDelivered(t *testing.T, cfg *Config) {
	client, server := newTransport(t, cfg), newTransport(t, cfg)
	topic := uniqueTopic(t)
	got := subscribe(t, server, topic, runtime.GroupFor(topic))
	if err := client.Send(context.Background(), rawRequest(topic, "one-way", []byte("x"), nil)); err != nil {
		t.Fatalf("Send: %v", err)
	}
	if m := receive(t, cfg, got, "one-way message"); string(m.Body) != "x" {
		t.Errorf("body = %q, want x", m.Body)
	}
}

func testRequestBeforeSubscribe(t *testing.T, cfg *Config) {
	client, server := newTransport(t, cfg), newTransport(t, cfg)
	topic := uniqueTopic(t)
	replySink(t, client)
	if err := client.Request(context.Background(), rawRequest(topic, "early", []byte("early"), nil)); err != nil {
		t.Fatalf("Request: %v", err)
	}
	got := subscribe(t, server, topic, runtime.GroupFor(topic))
	if m := receive(t, cfg, got, "request stored before the subscription"); string(m.Body) != "early" {
		t.Errorf("body = %q, want early", m.Body)
	}
}

func testGroupShares(t *testing.T, cfg *Config) {
	client := newTransport(t, cfg)
	topic := uniqueTopic(t)
	group := runtime.GroupFor(topic)
	var mu sync.Mutex
	seen := map[string]int{}
	var total atomic.Int64
	for range 2 {
		tr := newTransport(t, cfg)
		sub, err := tr.Subscribe(topic, group, func(_ context.Context, m *runtime.Message) error {
			mu.Lock()
			seen[string(m.Body)]++
			mu.Unlock()
			total.Add(1)
			return nil
		})
		if err != nil {
			t.Fatalf("Subscribe: %v", err)
		}
		t.Cleanup(func() { _ = sub.Stop() })
	}
	const n = 40
	for i := range n {
		if err := client.Send(context.Background(), rawRequest(topic, "", []byte{byte(i)}, nil)); err != nil {
			t.Fatalf("Send: %v", err)
		}
	}
	eventually(t, cfg, "every message is handled", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(seen) == n
	})
	// Queues deliver at least once: a rebalance between the members may
	// hand a message to both (the server's dedup absorbs that), but a
	// group shares its messages, it does not broadcast them.
	if got := total.Load(); got >= 2*n {
		t.Errorf("%d deliveries of %d messages to a group of two: the group broadcasts instead of sharing", got, n)
	}
}

func testHandlerErrorRedelivers(t *testing.T, cfg *Config) {
	client, server := newTransport(t, cfg), newTransport(t, cfg)
	topic := uniqueTopic(t)
	var attempts atomic.Int64
	var once sync.Once
	done := make(chan struct{})
	sub, err := server.Subscribe(topic, runtime.GroupFor(topic), func(_ context.Context, m *runtime.Message) error {
		if attempts.Add(1) == 1 {
			return errors.New("not now")
		}
		once.Do(func() { close(done) })
		return nil
	})
	if err != nil {
		t.Fatalf("Subscribe: %v", err)
	}
	t.Cleanup(func() { _ = sub.Stop() })
	if err := client.Send(context.Background(), rawRequest(topic, "", []byte("again"), nil)); err != nil {
		t.Fatalf("Send: %v", err)
	}
	receive(t, cfg, done, "redelivery")
	if n := attempts.Load(); n < 2 {
		t.Errorf("delivered %d times, want at least 2", n)
	}
}
