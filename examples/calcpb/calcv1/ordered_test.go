package calcv1

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/mqrpc/mqrpc/runtime"
	"github.com/mqrpc/mqrpc/runtime/memtransport"
)

// A generated .proto client takes WithOrderKey when it is made (a client
// value per key is cheap): one-way calls sent one after the other with one
// key are run in the order sent.
func TestGeneratedClientWithOrderKey(t *testing.T) {
	tr := memtransport.New()
	t.Cleanup(func() { _ = tr.Close() })
	const n = 200
	records := make(chan string, n)
	srv := runtime.NewServer(tr, runtime.WithOrderedCalls())
	if err := RegisterCalculator(srv, Server{Records: records}); err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.GracefulStop)
	client, err := runtime.NewClient(tr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Close() })
	calc := NewCalculatorClient(client, runtime.WithOrderKey("notes"))
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	for i := range n {
		if _, err := calc.Record(ctx, &RecordRequest{Note: fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := calc.Add(ctx, &AddRequest{A: 1, B: 2}); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		select {
		case got := <-records:
			if got != fmt.Sprint(i) {
				t.Fatalf("record %d is %q: one-way calls of one key ran out of order", i, got)
			}
		case <-ctx.Done():
			t.Fatalf("record %d never came", i)
		}
	}
}
