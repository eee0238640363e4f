package redisdedup_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mqrpc/mqrpc/runtime"
	"github.com/mqrpc/mqrpc/runtime/memtransport"
	"github.com/mqrpc/mqrpc/runtime/redisdedup"
)

// The service of these tests: Echo returns its argument and counts its
// runs per call id.
const echoService = "redisdedup.test.Echo"

type echoArgs struct {
	_msgpack struct{} `msgpack:",as_array"`
	S        string
}

type runs struct {
	mu    sync.Mutex
	by    map[string]int // call id -> handler runs
	total atomic.Int64
}

func (r *runs) Echo(ctx context.Context, s string) (string, error) {
	ci, _ := runtime.CallInfoFromContext(ctx)
	r.mu.Lock()
	r.by[ci.ID]++
	r.mu.Unlock()
	r.total.Add(1)
	return s, nil
}

var echoDesc = runtime.ServiceDesc{
	ServiceName: echoService,
	Methods: []runtime.MethodDesc{{
		Name:    "Echo",
		NewArgs: func() any { return new(echoArgs) },
		Call: func(ctx context.Context, impl any, args any) (any, error) {
			s, err := impl.(*runs).Echo(ctx, args.(*echoArgs).S)
			if err != nil {
				return nil, err
			}
			return &echoArgs{S: s}, nil
		},
	}},
}

// duplicating sends every request twice, as a queue that redelivers would
// deliver it.
type duplicating struct{ runtime.Transport }

func (d duplicating) Request(ctx context.Context, m *runtime.Message) error {
	if err := d.Transport.Request(ctx, m); err != nil {
		return err
	}
	return d.Transport.Request(ctx, m)
}

// startServer serves echoDesc on b with opts until the test ends.
func startServer(t *testing.T, b *memtransport.Broker, impl *runs, opts ...runtime.ServerOption) *runtime.Server {
	t.Helper()
	tr := b.NewTransport()
	s := runtime.NewServer(tr, opts...)
	if err := s.RegisterService(&echoDesc, impl); err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Stop(); _ = tr.Close() })
	return s
}

func newEchoClient(t *testing.T, tr runtime.Transport) *runtime.Client {
	t.Helper()
	c, err := runtime.NewClient(tr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// Two server instances in one group, each request delivered twice: with
// the shared store each call runs once in all; with each instance's own
// memory only, the instances run it once each.
func TestTwoInstancesRunEachCallOnce(t *testing.T) {
	const calls = 200
	for _, shared := range []bool{true, false} {
		t.Run(fmt.Sprint("shared=", shared), func(t *testing.T) {
			b := memtransport.NewBroker()
			impl := &runs{by: map[string]int{}}
			var opts []runtime.ServerOption
			if shared {
				opts = append(opts, runtime.WithDedupStore(redisdedup.New(newClient(t), redisdedup.WithPrefix(prefix(t)))))
			}
			s1 := startServer(t, b, impl, opts...)
			s2 := startServer(t, b, impl, opts...)
			client := newEchoClient(t, duplicating{b.NewTransport()})
			for i := range calls {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				var out echoArgs
				err := client.Invoke(ctx, runtime.FullMethodName(echoService, "Echo"), &echoArgs{S: fmt.Sprint(i)}, &out)
				cancel()
				if err != nil || out.S != fmt.Sprint(i) {
					t.Fatalf("call %d: %q, %v", i, out.S, err)
				}
			}
			// Every second delivery has been dealt with once both
			// servers have counted it one way or another.
			seen := func() uint64 {
				n := uint64(0)
				for _, s := range []*runtime.Server{s1, s2} {
					n += s.Stats().Duplicates + s.Stats().DeadLettered
				}
				return n
			}
			deadline := time.Now().Add(10 * time.Second)
			for impl.total.Load()+int64(seen()) < 2*calls && time.Now().Before(deadline) {
				time.Sleep(time.Millisecond)
			}
			twice := 0
			impl.mu.Lock()
			for _, n := range impl.by {
				if n > 1 {
					twice++
				}
			}
			impl.mu.Unlock()
			t.Logf("shared store %v: %d calls, %d handler runs, %d calls ran twice", shared, calls, impl.total.Load(), twice)
			switch {
			case shared && twice != 0:
				t.Fatalf("%d calls ran twice with the shared store", twice)
			case !shared && twice == 0:
				t.Fatalf("no call ran twice without the shared store: the test does not exercise two instances")
			}
		})
	}
}

// A server whose store is unreachable runs nothing and answers
// Unavailable, naming the store's error.
func TestStoreDownAnswersUnavailable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	rdb := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: time.Second})
	defer rdb.Close()
	b := memtransport.NewBroker()
	impl := &runs{by: map[string]int{}}
	startServer(t, b, impl, runtime.WithDedupStore(redisdedup.New(rdb)))
	client := newEchoClient(t, b.NewTransport())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = client.Invoke(ctx, runtime.FullMethodName(echoService, "Echo"), &echoArgs{S: "x"}, new(echoArgs))
	var e *runtime.Error
	if runtime.CodeOf(err) != runtime.Unavailable || !errors.As(err, &e) || !strings.Contains(e.Message, "connection refused") {
		t.Fatalf("call with the store down: %v, want Unavailable naming the store's error", err)
	}
	if n := impl.total.Load(); n != 0 {
		t.Fatalf("handler ran %d times without a claim", n)
	}
}
