package transporttest

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mqrpc/mqrpc/runtime"
)

// redeliveryWindow is longer than any conforming transport waits before it
// delivers a handed-back message again (RocketMQ: 1 s, its shortest
// delay), so that a message not delivered again within it never will be.
const redeliveryWindow = 2500 * time.Millisecond

// A message the handler refuses with runtime.ErrDeadLetter is not
// delivered again; other messages of the topic still are.
func testDeadLetterIsNotDeliveredAgain(t *testing.T, cfg *Config) {
	client, server := newTransport(t, cfg), newTransport(t, cfg)
	topic := uniqueTopic(t)
	var poisoned atomic.Int64
	delivered := make(chan string, 16)
	sub, err := server.Subscribe(topic, runtime.GroupFor(topic), func(_ context.Context, m *runtime.Message) error {
		delivered <- m.Key
		if m.Key == "poison" {
			poisoned.Add(1)
			return runtime.ErrDeadLetter
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Subscribe: %v", err)
	}
	t.Cleanup(func() { _ = sub.Stop() })
	if err := client.Send(context.Background(), rawRequest(topic, "poison", []byte("x"), nil)); err != nil {
		t.Fatalf("Send: %v", err)
	}
	if k := receive(t, cfg, delivered, "the message"); k != "poison" {
		t.Fatalf("delivered %q, want poison", k)
	}
	if err := client.Send(context.Background(), rawRequest(topic, "after", []byte("y"), nil)); err != nil {
		t.Fatalf("Send: %v", err)
	}
	deadline := time.After(redeliveryWindow)
	for {
		select {
		case k := <-delivered:
			if k == "poison" {
				t.Fatalf("a dead-lettered message was delivered again")
			}
		case <-deadline:
			if n := poisoned.Load(); n != 1 {
				t.Fatalf("dead-lettered message delivered %d times", n)
			}
			return
		}
	}
}

// A transport that counts deliveries (Attempt above 0) counts a handed-back
// message's next delivery as the next attempt.
func testRedeliveryCountsAttempts(t *testing.T, cfg *Config) {
	client, server := newTransport(t, cfg), newTransport(t, cfg)
	topic := uniqueTopic(t)
	attempts := make(chan int, 4)
	var deliveries atomic.Int64
	sub, err := server.Subscribe(topic, runtime.GroupFor(topic), func(_ context.Context, m *runtime.Message) error {
		attempts <- m.Attempt
		if deliveries.Add(1) == 1 {
			return errBusy
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Subscribe: %v", err)
	}
	t.Cleanup(func() { _ = sub.Stop() })
	if err := client.Send(context.Background(), rawRequest(topic, "", []byte("again"), nil)); err != nil {
		t.Fatalf("Send: %v", err)
	}
	first := receive(t, cfg, attempts, "the message")
	second := receive(t, cfg, attempts, "its redelivery")
	if first == 0 && second == 0 {
		t.Log("the transport does not count deliveries")
		return
	}
	if first != 1 || second != 2 {
		t.Fatalf("attempts %d then %d, want 1 then 2", first, second)
	}
}

var errBusy = errors.New("busy, deliver again")
