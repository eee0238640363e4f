package memtransport_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/mqrpc/mqrpc/runtime"
	"github.com/mqrpc/mqrpc/runtime/memtransport"
)

// attempts records the Attempt of every delivery, and signals each.
type attempts struct {
	mu  sync.Mutex
	got []int
	c   chan struct{}
}

func (a *attempts) add(n int) {
	a.mu.Lock()
	a.got = append(a.got, n)
	a.mu.Unlock()
	a.c <- struct{}{}
}

func (a *attempts) list() []int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.got)
}

// waitFor waits until cond holds, or fails after 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 10s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestRedeliveryCountsAttempts(t *testing.T) {
	b := memtransport.NewBroker()
	tr := b.NewTransport()
	defer tr.Close()
	a := &attempts{c: make(chan struct{}, 16)}
	sub, err := tr.Subscribe("t", "g", func(_ context.Context, m *runtime.Message) error {
		defer a.add(m.Attempt)
		if m.Attempt < 3 {
			return errors.New("not yet")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Stop()
	if err := tr.Send(context.Background(), &runtime.Message{Topic: "t", Key: "k"}); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		<-a.c
	}
	if got := a.list(); !slices.Equal(got, []int{1, 2, 3}) {
		t.Fatalf("attempts %v, want [1 2 3]", got)
	}
	if dl := b.DeadLetters("g"); len(dl) != 0 {
		t.Fatalf("%d dead letters for a message that succeeded", len(dl))
	}
}

func TestDeadLetterAtOnce(t *testing.T) {
	b := memtransport.NewBroker()
	tr := b.NewTransport()
	defer tr.Close()
	a := &attempts{c: make(chan struct{}, 16)}
	sub, err := tr.Subscribe("t", "g", func(_ context.Context, m *runtime.Message) error {
		defer a.add(m.Attempt)
		if m.Key == "poison" {
			return runtime.ErrDeadLetter
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Stop()
	for _, k := range []string{"poison", "after"} {
		if err := tr.Send(context.Background(), &runtime.Message{Topic: "t", Key: k}); err != nil {
			t.Fatal(err)
		}
	}
	<-a.c
	<-a.c
	waitFor(t, "the poison message is dead-lettered", func() bool { return len(b.DeadLetters("g")) == 1 })
	if dl := b.DeadLetters("g"); dl[0].Key != "poison" || dl[0].Attempt != 1 {
		t.Fatalf("dead letter %q attempt %d, want poison attempt 1", dl[0].Key, dl[0].Attempt)
	}
	// It is not delivered again: a later message is the next and last
	// delivery.
	if err := tr.Send(context.Background(), &runtime.Message{Topic: "t", Key: "last"}); err != nil {
		t.Fatal(err)
	}
	<-a.c
	if got := a.list(); len(got) != 3 {
		t.Fatalf("%d deliveries, want 3 (poison once, two others)", len(got))
	}
	if dl := b.DeadLetters("other"); len(dl) != 0 {
		t.Fatalf("another group has %d dead letters", len(dl))
	}
}

func TestDeadLetterAfterMaxRedeliveries(t *testing.T) {
	b := memtransport.NewBroker(memtransport.WithMaxRedeliveries(2))
	tr := b.NewTransport()
	defer tr.Close()
	a := &attempts{c: make(chan struct{}, 16)}
	sub, err := tr.Subscribe("t", "g", func(_ context.Context, m *runtime.Message) error {
		a.add(m.Attempt)
		return errors.New("always fails")
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Stop()
	if err := tr.Send(context.Background(), &runtime.Message{Topic: "t", Key: "k"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the failing message is dead-lettered", func() bool { return len(b.DeadLetters("g")) == 1 })
	if got := a.list(); !slices.Equal(got, []int{1, 2, 3}) {
		t.Fatalf("attempts %v, want [1 2 3]: the first delivery and 2 redeliveries", got)
	}
	if dl := b.DeadLetters("g")[0]; dl.Attempt != 3 {
		t.Fatalf("dead letter's attempt %d, want 3", dl.Attempt)
	}
}
