package calculator

import (
	"context"
	goruntime "runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mqrpc/mqrpc/runtime"
	"github.com/mqrpc/mqrpc/runtime/memtransport"
)

// exclusive is a Calculator whose Add notes how many calls run at once.
type exclusive struct {
	Server
	running, most atomic.Int64
}

func (e *exclusive) Add(ctx context.Context, a, b int) (int, error) {
	n := e.running.Add(1)
	defer e.running.Add(-1)
	for m := e.most.Load(); n > m && !e.most.CompareAndSwap(m, n); m = e.most.Load() {
	}
	// Give another call of the key the chance to start, were it allowed.
	goruntime.Gosched()
	return e.Server.Add(ctx, a, b)
}

// A generated Go-interface client takes WithOrderKey as a client-wide call
// option: its calls then run one at a time on the server.
func TestGeneratedClientWithOrderKey(t *testing.T) {
	tr := memtransport.New()
	t.Cleanup(func() { _ = tr.Close() })
	impl := new(exclusive)
	srv := runtime.NewServer(tr, runtime.WithOrderedCalls())
	if err := RegisterCalculator(srv, impl); err != nil {
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
	calc := NewCalculatorClient(client, runtime.WithOrderKey("account-42"))
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if got, err := calc.Add(ctx, i, 1); err != nil || got != i+1 {
				t.Errorf("Add(%d, 1) = %d, %v", i, got, err)
			}
		}()
	}
	wg.Wait()
	if m := impl.most.Load(); m != 1 {
		t.Fatalf("%d calls of one order key ran at once, want 1", m)
	}
}
