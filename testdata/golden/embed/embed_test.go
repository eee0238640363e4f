package embed

import (
	"bytes"
	"context"
	"reflect"
	"sort"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/mqrpc/mqrpc/runtime"
	"github.com/mqrpc/mqrpc/testdata/internal/goldentest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// memStore implements Admin (and so Store) in memory.
type memStore struct {
	mu   sync.Mutex
	data map[string][]byte
	logs chan string
}

func newMemStore() *memStore {
	return &memStore{data: map[string][]byte{}, logs: make(chan string, 1)}
}

func (m *memStore) Ping(_ context.Context, msg string) (string, error) { return "pong: " + msg, nil }

func (m *memStore) Log(_ context.Context, line string) error {
	m.logs <- line
	return nil
}

func (m *memStore) Get(_ context.Context, key string) ([]byte, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := m.data[key]
	return v, ok, nil
}

func (m *memStore) Put(_ context.Context, key string, value []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.data[key] = bytes.Clone(value)
	return nil
}

func (m *memStore) Reset(context.Context) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := len(m.data)
	clear(m.data)
	return n, nil
}

func ctx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// Both services of the package run on one server, each with its own
// descriptor and methods from this package and from shared.
func TestEmbeddedMethodsAreServed(t *testing.T) {
	store, admin := newMemStore(), newMemStore()
	client := goldentest.Serve(t, func(s *runtime.Server) error {
		if err := RegisterStore(s, store); err != nil {
			return err
		}
		return RegisterAdmin(s, admin)
	})
	var sc Store = NewStoreClient(client)
	var ac Admin = NewAdminClient(client)

	if got, err := sc.Ping(ctx(t), "hi"); err != nil || got != "pong: hi" {
		t.Fatalf("Store.Ping: %q, %v", got, err)
	}
	if err := sc.Put(ctx(t), "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	if v, ok, err := sc.Get(ctx(t), "k"); err != nil || !ok || string(v) != "v" {
		t.Fatalf("Store.Get: %q, %v, %v", v, ok, err)
	}
	if _, ok, err := ac.Get(ctx(t), "k"); err != nil || ok {
		t.Fatalf("Admin.Get sees the Store's data: %v, %v", ok, err)
	}
	for _, k := range []string{"a", "b"} {
		if err := ac.Put(ctx(t), k, nil); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := ac.Reset(ctx(t)); err != nil || n != 2 {
		t.Fatalf("Admin.Reset: %d, %v", n, err)
	}
}

func TestOneWayMethodFromAnotherPackage(t *testing.T) {
	store := newMemStore()
	client := goldentest.Serve(t, func(s *runtime.Server) error { return RegisterStore(s, store) })
	if err := NewStoreClient(client).Log(ctx(t), "started"); err != nil {
		t.Fatal(err)
	}
	select {
	case line := <-store.logs:
		if line != "started" {
			t.Errorf("server logged %q", line)
		}
	case <-ctx(t).Done():
		t.Fatal("the one-way Log never reached the server")
	}
	if !storeServiceDesc.Methods[methodIndex(t, storeServiceDesc, "Log")].OneWay {
		t.Error("Log is not one-way in the descriptor")
	}
}

func TestMethodsInDeclarationOrder(t *testing.T) {
	var names []string
	for _, m := range adminServiceDesc.Methods {
		names = append(names, m.Name)
	}
	// This package's methods in source order, then shared's.
	want := []string{"Get", "Put", "Reset", "Ping", "Log"}
	if !reflect.DeepEqual(names, want) {
		t.Errorf("methods %v, want %v", names, want)
	}
	sorted := append([]string(nil), names...)
	sort.Strings(sorted)
	if reflect.DeepEqual(sorted, names) {
		t.Error("methods are sorted by name, not declared order")
	}
}

func methodIndex(t *testing.T, d runtime.ServiceDesc, name string) int {
	t.Helper()
	for i, m := range d.Methods {
		if m.Name == name {
			return i
		}
	}
	t.Fatalf("no method %s in %s", name, d.ServiceName)
	return -1
}
