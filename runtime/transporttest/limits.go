package transporttest

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mqrpc/mqrpc/runtime"
)

// testMaxConcurrency makes more Block calls than the server may run at
// once, waits until the transport has handed every one of them to the
// server, and only then releases a running call each time the limit is
// reached. The server must reach the limit and never exceed it: one that
// ignored the limit would by then be running the calls held back here.
func testMaxConcurrency(t *testing.T, cfg *Config) {
	const limit, calls = 3, 12
	var delivered atomic.Int64
	e := newEnv(t, cfg, envOptions{
		server:      []runtime.ServerOption{runtime.WithMaxConcurrency(limit)},
		serverTrans: func(tr runtime.Transport) runtime.Transport { return countingDeliveries{tr, &delivered} },
	})
	errc := make(chan error, calls)
	for i := range calls {
		go func() { errc <- e.client.Invoke(e.ctx(), method("Block"), &idArgs{ID: fmt.Sprint(i)}, nil) }()
	}
	eventually(t, cfg, "every request reaches the server", func() bool { return delivered.Load() >= calls })
	var running []blocked
	for range calls {
		running = append(running, e.awaitBlocked())
		if len(running) == limit {
			close(running[0].release)
			running = running[1:]
		}
	}
	for _, b := range running {
		close(b.release)
	}
	for range calls {
		if err := receive(t, cfg, errc, "a Block call to return"); err != nil {
			t.Errorf("Block: %v", err)
		}
	}
	if peak := e.probe.peak.Load(); peak != limit {
		t.Errorf("at most %d handlers ran at once, want the limit %d", peak, limit)
	}
}

// testMaxPending fills the client's pending calls with Block calls that
// the server holds, then checks that one more call fails at once, without
// being sent, and that a finished call frees its place.
func testMaxPending(t *testing.T, cfg *Config) {
	const limit = 3
	var stored atomic.Int64
	e := newEnv(t, cfg, envOptions{
		client:      []runtime.ClientOption{runtime.WithMaxPending(limit)},
		clientTrans: func(tr runtime.Transport) runtime.Transport { return countingRequests{tr, &stored} },
	})
	errc := make(chan error, limit)
	for i := range limit {
		go func() { errc <- e.client.Invoke(e.ctx(), method("Block"), &idArgs{ID: fmt.Sprint(i)}, nil) }()
	}
	held := make([]blocked, limit)
	for i := range held {
		held[i] = e.awaitBlocked() // its call stays pending until released
	}
	// A handler may start before its client's Request has returned.
	eventually(t, cfg, "every held call's Request returns", func() bool { return stored.Load() == limit })

	start := time.Now()
	_, err := e.echo(e.ctx(), "one too many", nil)
	took := time.Since(start)
	wantCode(t, err, runtime.ResourceExhausted)
	if took > cfg.Slack {
		t.Errorf("the call over the limit took %v to fail, want at once (within %v)", took, cfg.Slack)
	}
	if n := stored.Load(); n != limit {
		t.Errorf("%d requests sent, want %d: the call over the limit must not be sent", n, limit)
	}

	close(held[0].release)
	if err := receive(t, cfg, errc, "a released Block call to return"); err != nil {
		t.Fatalf("Block: %v", err)
	}
	if _, err := e.echo(e.ctx(), "room again", nil); err != nil {
		t.Errorf("call after a pending call finished: %v", err)
	}
	for _, b := range held[1:] {
		close(b.release)
	}
	for range limit - 1 {
		if err := receive(t, cfg, errc, "a released Block call to return"); err != nil {
			t.Errorf("Block: %v", err)
		}
	}
}
