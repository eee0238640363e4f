package runtime_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mqrpc/mqrpc/runtime"
	"github.com/mqrpc/mqrpc/runtime/memtransport"
)

func TestFanoutTopicFor(t *testing.T) {
	if got := runtime.FanoutTopicFor("calc_Calculator"); got != "calc_Calculator_fanout" {
		t.Errorf("FanoutTopicFor(calc_Calculator) = %q", got)
	}
	long := strings.Repeat("a", 127)
	a, b := runtime.FanoutTopicFor(long), runtime.FanoutTopicFor(long[:126]+"b")
	for _, got := range []string{a, b} {
		if len(got) > 127 || !strings.HasSuffix(got, "_fanout") || runtime.TopicFor(got) != got {
			t.Errorf("FanoutTopicFor of a 127-character topic = %q (%d characters), want a valid topic of at most 127 ending in _fanout", got, len(got))
		}
	}
	if a == b {
		t.Errorf("two long topics that differ in their last character share the fan-out topic %q", a)
	}
}

func TestFanoutCallNeedsAFanoutTransport(t *testing.T) {
	tr := plainTransport{memtransport.New()}
	defer tr.Close()
	c, err := runtime.NewClient(tr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = runtime.Fanout(context.Background(), c, "/pkg.Service/Method", &struct{}{}, func(*struct{}) struct{} { return struct{}{} })
	if runtime.CodeOf(err) != runtime.Unimplemented {
		t.Fatalf("fan-out call over a transport without broadcasting: got %v, want Unimplemented", err)
	}
	s := runtime.NewServer(tr, runtime.WithFanoutCalls())
	if err := s.RegisterService(&countDesc, new(atomic.Int64)); err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err == nil || !strings.Contains(err.Error(), "does not carry") {
		s.Stop()
		t.Fatalf("a server WithFanoutCalls on a transport without broadcasting started: %v", err)
	}
}

// countDesc counts the calls of its one method in the *atomic.Int64 it
// serves.
var countDesc = runtime.ServiceDesc{ServiceName: "pkg.Count", Methods: []runtime.MethodDesc{{
	Name:    "Hit",
	NewArgs: func() any { return new(struct{}) },
	Call: func(_ context.Context, impl any, _ any) (any, error) {
		impl.(*atomic.Int64).Add(1)
		return nil, nil
	},
}}}

func hit(ctx context.Context, c *runtime.Client, opts ...runtime.CallOption) ([]runtime.Reply[struct{}], error) {
	return runtime.Fanout(ctx, c, "/pkg.Count/Hit", &struct{}{}, func(*struct{}) struct{} { return struct{}{} }, opts...)
}

// fanoutServers starts n servers of countDesc on broker, with opts, and
// returns what they count in.
func fanoutServers(t *testing.T, broker *memtransport.Broker, n int, opts ...runtime.ServerOption) *atomic.Int64 {
	t.Helper()
	var count atomic.Int64
	for range n {
		tr := broker.NewTransport()
		t.Cleanup(func() { _ = tr.Close() })
		s := runtime.NewServer(tr, append([]runtime.ServerOption{runtime.WithFanoutCalls()}, opts...)...)
		if err := s.RegisterService(&countDesc, &count); err != nil {
			t.Fatal(err)
		}
		if err := s.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Stop)
	}
	return &count
}

func newMemClient(t *testing.T, broker *memtransport.Broker) *runtime.Client {
	t.Helper()
	tr := broker.NewTransport()
	t.Cleanup(func() { _ = tr.Close() })
	c, err := runtime.NewClient(tr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// A store shared by the servers would let one of them run a fan-out call;
// every one must.
func TestFanoutCallRunsOnEveryServerWithASharedDedupStore(t *testing.T) {
	broker := memtransport.NewBroker()
	count := fanoutServers(t, broker, 3, runtime.WithDedupStore(runtime.NewMemoryDedupStore(100)))
	rs, err := hit(context.Background(), newMemClient(t, broker), runtime.WithTimeout(10*time.Second))
	if err != nil || len(rs) != 3 {
		t.Fatalf("got %d replies, %v; want 3", len(rs), err)
	}
	for _, r := range rs {
		if r.Err != nil || r.Instance == "" {
			t.Errorf("reply %+v, want success from a named instance", r)
		}
	}
	if n := count.Load(); n != 3 {
		t.Errorf("the call ran %d times, want 3", n)
	}
}

// WithExpect ends the call at n replies; the rest are dropped and counted.
func TestFanoutCallEndsAtExpectedCount(t *testing.T) {
	broker := memtransport.NewBroker()
	count := fanoutServers(t, broker, 3)
	c := newMemClient(t, broker)
	rs, err := hit(context.Background(), c, runtime.WithTimeout(10*time.Second), runtime.WithExpect(1))
	if err != nil || len(rs) != 1 {
		t.Fatalf("got %d replies, %v; want 1", len(rs), err)
	}
	deadline := time.After(10 * time.Second)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for c.Stats().DroppedReplies != 2 || count.Load() != 3 {
		select {
		case <-deadline:
			t.Fatalf("ran %d times, %d replies dropped; want 3 and 2", count.Load(), c.Stats().DroppedReplies)
		case <-tick.C:
		}
	}
	if p := c.Stats().Pending; p != 0 {
		t.Errorf("Pending = %d, want 0", p)
	}
}

// Client.Close ends a fan-out call that waits, with Canceled when no
// reply came.
func TestClientCloseEndsFanoutCall(t *testing.T) {
	broker := memtransport.NewBroker()
	c := newMemClient(t, broker)
	// A member that never answers: its transport takes the call and
	// holds it.
	tr := broker.NewTransport()
	defer tr.Close()
	release := make(chan struct{})
	taken := make(chan struct{}, 1)
	topic := runtime.FanoutTopicFor(runtime.TopicFor("pkg.Count"))
	sub, err := tr.SubscribeBroadcast(topic, runtime.GroupFor(topic), func(context.Context, *runtime.Message) error {
		taken <- struct{}{}
		<-release
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Stop()
	defer close(release)
	done := make(chan error, 1)
	go func() {
		_, err := hit(context.Background(), c, runtime.WithTimeout(time.Minute))
		done <- err
	}()
	<-taken
	_ = c.Close()
	select {
	case err := <-done:
		if runtime.CodeOf(err) != runtime.Canceled {
			t.Fatalf("got %v, want Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the fan-out call did not end when its client closed")
	}
}
