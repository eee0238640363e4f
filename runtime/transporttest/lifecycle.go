package transporttest

import (
	"context"
	"slices"
	"sync"
	"testing"

	"github.com/mqrpc/mqrpc/runtime"
)

func testMetadata(t *testing.T, cfg *Config) {
	e := newEnv(t, cfg, envOptions{})
	ctx := runtime.AppendOutgoingMetadata(e.ctx(), "Tenant", "acme", "request-id", "r-1")
	var trailer runtime.Metadata
	if _, err := e.echo(ctx, "md", nil, runtime.Trailer(&trailer)); err != nil {
		t.Fatalf("Echo: %v", err)
	}
	want := runtime.Metadata{"echo-tenant": "acme", "echo-request-id": "r-1"}
	if len(trailer) != len(want) {
		t.Errorf("trailer = %v, want %v", trailer, want)
	}
	for k, v := range want {
		if trailer.Get(k) != v {
			t.Errorf("trailer[%q] = %q, want %q", k, trailer.Get(k), v)
		}
	}
}

func testInterceptors(t *testing.T, cfg *Config) {
	var mu sync.Mutex
	var order []string
	record := func(s string) {
		mu.Lock()
		order = append(order, s)
		mu.Unlock()
	}
	client := func(name string) runtime.UnaryClientInterceptor {
		return func(ctx context.Context, m string, args, results any, invoke runtime.Invoker) error {
			record(name + ">" + m)
			err := invoke(ctx, m, args, results)
			record(name + "<")
			return err
		}
	}
	server := func(name string) runtime.UnaryServerInterceptor {
		return func(ctx context.Context, args any, info *runtime.UnaryServerInfo, h runtime.UnaryHandler) (any, error) {
			record(name + ">" + info.FullMethod)
			res, err := h(ctx, args)
			record(name + "<")
			return res, err
		}
	}
	e := newEnv(t, cfg, envOptions{
		client: []runtime.ClientOption{runtime.WithClientInterceptors(client("c1"), client("c2"))},
		server: []runtime.ServerOption{runtime.WithServerInterceptors(server("s1"), server("s2"))},
	})
	got, err := e.echo(e.ctx(), "through", nil)
	if err != nil || got.S != "through" {
		t.Fatalf("Echo through interceptors: %v, %q", err, got.S)
	}
	m := method("Echo")
	want := []string{"c1>" + m, "c2>" + m, "s1>" + m, "s2>" + m, "s2<", "s1<", "c2<", "c1<"}
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(order, want) {
		t.Errorf("interceptors ran in order\n%v\nwant\n%v", order, want)
	}
}

func testOneWay(t *testing.T, cfg *Config) {
	e := newEnv(t, cfg, envOptions{})
	if err := e.client.Send(e.ctx(), method("Notify"), &idArgs{ID: "ping"}); err != nil {
		t.Fatalf("Send: %v", err)
	}
	if got := receive(t, cfg, e.probe.notified, "one-way call"); got != "ping" {
		t.Errorf("handler got %q, want ping", got)
	}
	if n := e.client.Stats().Pending; n != 0 {
		t.Errorf("a one-way call left %d calls pending", n)
	}
}

// testGracefulStop checks the order of events once GracefulStop has begun
// (its server has entered Subscription.Stop): the in-flight handler returns
// and its reply is stored before GracefulStop returns, and the caller gets
// that reply.
func testGracefulStop(t *testing.T, cfg *Config) {
	var log eventLog
	var watched watchedServer
	e := newEnv(t, cfg, envOptions{serverTrans: func(tr runtime.Transport) runtime.Transport {
		watched = newWatchedServer(tr, &log)
		return watched
	}})
	errc := make(chan error, 1)
	go func() { errc <- e.client.Invoke(e.ctx(), method("Block"), &idArgs{}, nil) }()
	b := e.awaitBlocked()
	const stopReturned = "GracefulStop returned"
	stopped := make(chan struct{})
	go func() {
		e.server.GracefulStop()
		log.add(stopReturned)
		close(stopped)
	}()
	receive(t, cfg, watched.stopping, "GracefulStop to stop its subscription")
	close(b.release)
	receive(t, cfg, stopped, "GracefulStop to return")
	if !log.before(evReplySent, stopReturned) || !log.before(evHandlerReturned, stopReturned) {
		t.Errorf("events %v: GracefulStop returned before the in-flight handler returned and its reply was stored", &log)
	}
	if err := receive(t, cfg, errc, "the in-flight call to return"); err != nil {
		t.Fatalf("in-flight call during GracefulStop: %v", err)
	}
}

func testClientClose(t *testing.T, cfg *Config) {
	e := newEnv(t, cfg, envOptions{noStart: true})
	errc := make(chan error, 1)
	go func() {
		_, err := e.echo(e.ctx(), "never answered", nil)
		errc <- err
	}()
	eventually(t, cfg, "the call is pending", func() bool { return e.client.Stats().Pending == 1 })
	if err := e.client.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	wantCode(t, <-errc, runtime.Canceled)
	_, err := e.echo(e.ctx(), "after close", nil)
	wantCode(t, err, runtime.Unavailable)
}
