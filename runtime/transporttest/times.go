package transporttest

import (
	"context"
	"testing"
	"time"

	"github.com/mqrpc/mqrpc/runtime"
)

// testMessagesCarryTimes checks that delivered requests and replies say when
// they were sent, by the sender's clock (here the test's own, read before
// and after), and when the broker stored them, by the broker's clock, which
// is only checked to be there. Brokers keep milliseconds, so the lower
// bound is truncated to one.
func testMessagesCarryTimes(t *testing.T, cfg *Config) {
	client, server := newTransport(t, cfg), newTransport(t, cfg)
	topic := uniqueTopic(t)
	replies := replySink(t, client)
	requests := subscribe(t, server, topic, runtime.GroupFor(topic))

	check := func(what string, m *runtime.Message, before, after time.Time) {
		t.Helper()
		if m.SentAt.Before(before.Truncate(time.Millisecond)) || m.SentAt.After(after) {
			t.Errorf("%s SentAt = %v, want between %v and %v", what, m.SentAt, before, after)
		}
		if m.StoredAt.IsZero() {
			t.Errorf("%s has no StoredAt", what)
		}
	}

	before := time.Now()
	if err := client.Request(context.Background(), rawRequest(topic, "call-1", []byte("q"), nil)); err != nil {
		t.Fatalf("Request: %v", err)
	}
	req := receive(t, cfg, requests, "request")
	check("request", req, before, time.Now())

	before = time.Now()
	reply := &runtime.Message{Properties: map[string]string{runtime.PropCorrelationID: "call-1"}, Body: []byte("a")}
	if err := server.Reply(context.Background(), req, reply); err != nil {
		t.Fatalf("Reply: %v", err)
	}
	got := receive(t, cfg, replies, "reply")
	check("reply", got, before, time.Now())
}
