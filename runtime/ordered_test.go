package runtime_test

import (
	"context"
	"strings"
	"testing"

	"github.com/mqrpc/mqrpc/runtime"
	"github.com/mqrpc/mqrpc/runtime/memtransport"
)

func TestOrderedTopicFor(t *testing.T) {
	long := strings.Repeat("a", 127)
	tests := []struct{ topic, want string }{
		{"calc_Calculator", "calc_Calculator_ordered"},
		{strings.Repeat("b", 119), strings.Repeat("b", 119) + "_ordered"},
	}
	for _, tc := range tests {
		if got := runtime.OrderedTopicFor(tc.topic); got != tc.want {
			t.Errorf("OrderedTopicFor(%q) = %q, want %q", tc.topic, got, tc.want)
		}
	}
	a, b := runtime.OrderedTopicFor(long), runtime.OrderedTopicFor(long[:126]+"b")
	for _, got := range []string{a, b} {
		if len(got) > 127 || !strings.HasSuffix(got, "_ordered") || runtime.TopicFor(got) != got {
			t.Errorf("OrderedTopicFor of a 127-character topic = %q (%d characters), want a valid topic of at most 127 ending in _ordered", got, len(got))
		}
	}
	if a == b {
		t.Errorf("two long topics that differ in their last character share the ordered topic %q", a)
	}
}

// The queue rule is part of the wire protocol (docs/PROTOCOL.md): these
// values are what a peer in another language must compute.
func TestOrderQueueIsFNV1aModN(t *testing.T) {
	tests := []struct {
		key  string
		n    int
		want int
	}{
		{"", 8, int(2166136261 % 8)}, // the FNV-1a offset basis
		{"a", 8, int(0xe40c292c % 8)},
		{"account-42", 8, int(fnv1a("account-42") % 8)},
		{"account-42", 5, int(fnv1a("account-42") % 5)},
		{"a", 0, 0},
	}
	for _, tc := range tests {
		if got := runtime.OrderQueue(tc.key, tc.n); got != tc.want {
			t.Errorf("OrderQueue(%q, %d) = %d, want %d", tc.key, tc.n, got, tc.want)
		}
	}
}

// fnv1a is the 32-bit FNV-1a hash written out as docs/PROTOCOL.md states it.
func fnv1a(s string) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(s); i++ {
		h ^= uint32(s[i])
		h *= 16777619
	}
	return h
}

// plainTransport hides the ordered subscriptions of the transport it wraps.
type plainTransport struct{ runtime.Transport }

func TestOrderedCallNeedsAnOrderedTransport(t *testing.T) {
	tr := plainTransport{memtransport.New()}
	defer tr.Close()
	c, err := runtime.NewClient(tr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	err = c.Invoke(context.Background(), "/pkg.Service/Method", &struct{}{}, nil, runtime.WithOrderKey("k"))
	if runtime.CodeOf(err) != runtime.Unimplemented {
		t.Fatalf("ordered call over a transport without ordering: got %v, want Unimplemented", err)
	}
}

func TestServerWithOrderedCallsNeedsAnOrderedTransport(t *testing.T) {
	tr := plainTransport{memtransport.New()}
	defer tr.Close()
	s := runtime.NewServer(tr, runtime.WithOrderedCalls())
	desc := &runtime.ServiceDesc{ServiceName: "pkg.Service", Methods: []runtime.MethodDesc{{
		Name:    "Method",
		NewArgs: func() any { return new(struct{}) },
		Call:    func(context.Context, any, any) (any, error) { return nil, nil },
	}}}
	if err := s.RegisterService(desc, struct{}{}); err != nil {
		t.Fatal(err)
	}
	err := s.Start()
	if err == nil {
		s.Stop()
		t.Fatal("a server WithOrderedCalls started on a transport without ordering")
	}
	if !strings.Contains(err.Error(), "does not carry") {
		t.Fatalf("got %v, want an error saying the transport does not carry ordered calls", err)
	}
}
