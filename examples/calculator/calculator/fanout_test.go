package calculator

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/mqrpc/mqrpc/runtime"
	"github.com/mqrpc/mqrpc/runtime/memtransport"
)

// The generated fan-out client gets one typed reply per server instance.
func TestFanoutClientGetsEveryServersReply(t *testing.T) {
	broker := memtransport.NewBroker()
	want := []string{"calc-a", "calc-b", "calc-c"}
	for _, id := range want {
		tr := broker.NewTransport()
		t.Cleanup(func() { _ = tr.Close() })
		srv := runtime.NewServer(tr, runtime.WithFanoutCalls(), runtime.WithInstanceID(id))
		if err := RegisterCalculator(srv, Server{}); err != nil {
			t.Fatal(err)
		}
		if err := srv.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(srv.Stop)
	}
	tr := broker.NewTransport()
	t.Cleanup(func() { _ = tr.Close() })
	client, err := runtime.NewClient(tr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Close() })
	calc := NewCalculatorFanoutClient(client, runtime.WithTimeout(10*time.Second))
	ctx := context.Background()

	sums, err := calc.Add(ctx, 2, 3)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range sums {
		if r.Err != nil || r.Value != 5 {
			t.Errorf("Add from %s = %d, %v; want 5", r.Instance, r.Value, r.Err)
		}
		got = append(got, r.Instance)
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("replies from %v, want %v", got, want)
	}

	// Several results come as the results struct; an error in each reply.
	two := NewCalculatorFanoutClient(client, runtime.WithTimeout(10*time.Second), runtime.WithExpect(2))
	divs, err := two.Div(ctx, 7, 2)
	if err != nil || len(divs) != 2 {
		t.Fatalf("Div WithExpect(2): %d replies, %v; want 2", len(divs), err)
	}
	for _, r := range divs {
		if r.Err != nil || r.Value.R0 != 3 || r.Value.R1 != 1 {
			t.Errorf("Div from %s = %+v, %v; want 3, 1", r.Instance, r.Value, r.Err)
		}
	}
	fails, err := calc.Div(ctx, 1, 0)
	if err != nil || len(fails) != 3 {
		t.Fatalf("Div by zero: %d replies, %v; want 3", len(fails), err)
	}
	for _, r := range fails {
		if runtime.CodeOf(r.Err) != runtime.InvalidArgument {
			t.Errorf("Div by zero from %s: %v, want InvalidArgument", r.Instance, r.Err)
		}
	}
	if n := client.Stats().Pending; n != 0 {
		t.Errorf("%d calls pending after the calls ended", n)
	}
}
