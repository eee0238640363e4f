// Package goldentest connects a golden package's generated client to its
// generated server over an in-memory transport, as users would over a
// broker.
package goldentest

import (
	"testing"

	"github.com/mqrpc/mqrpc/runtime"
	"github.com/mqrpc/mqrpc/runtime/memtransport"
)

// Serve starts a server with the services register adds and returns a
// client of it; both are stopped when the test ends.
func Serve(t *testing.T, register func(*runtime.Server) error) *runtime.Client {
	t.Helper()
	tr := memtransport.New()
	t.Cleanup(func() { _ = tr.Close() })
	return ServeOn(t, tr, register)
}

// ServeOn is Serve over tr, which the caller closes.
func ServeOn(t *testing.T, tr runtime.Transport, register func(*runtime.Server) error) *runtime.Client {
	t.Helper()
	srv := runtime.NewServer(tr)
	if err := register(srv); err != nil {
		t.Fatalf("register: %v", err)
	}
	if err := srv.Start(); err != nil {
		t.Fatalf("start server: %v", err)
	}
	t.Cleanup(srv.GracefulStop)
	client, err := runtime.NewClient(tr)
	if err != nil {
		t.Fatalf("new client: %v", err)
	}
	t.Cleanup(func() { _ = client.Close() })
	return client
}
