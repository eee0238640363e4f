package runtime_test

import (
	"context"
	"testing"

	"go.uber.org/goleak"

	"github.com/mqrpc/mqrpc/runtime"
	"github.com/mqrpc/mqrpc/runtime/memtransport"
)

// benchAdder is the service of the benchmarks; its descriptor is written
// the way mqrpcgen writes one.
type benchAdder interface {
	Add(ctx context.Context, a, b int) (int, error)
}

type benchAdderImpl struct{}

func (benchAdderImpl) Add(_ context.Context, a, b int) (int, error) { return a + b, nil }

type benchAddArgs struct {
	_msgpack struct{} `msgpack:",as_array"`
	A        int
	B        int
}

type benchAddResults struct {
	_msgpack struct{} `msgpack:",as_array"`
	R0       int
}

const benchAddMethod = "/bench.Adder/Add"

var benchAdderDesc = runtime.ServiceDesc{
	ServiceName: "bench.Adder",
	HandlerType: (*benchAdder)(nil),
	Methods: []runtime.MethodDesc{{
		Name:    "Add",
		NewArgs: func() any { return new(benchAddArgs) },
		Call: func(ctx context.Context, impl any, args any) (any, error) {
			in := args.(*benchAddArgs)
			r0, err := impl.(benchAdder).Add(ctx, in.A, in.B)
			if err != nil {
				return nil, err
			}
			return &benchAddResults{R0: r0}, nil
		},
	}},
}

// benchAdd is what a generated client method does.
func benchAdd(ctx context.Context, c *runtime.Client, a, b int) (int, error) {
	in := benchAddArgs{A: a, B: b}
	var out benchAddResults
	err := c.Invoke(ctx, benchAddMethod, &in, &out)
	return out.R0, err
}

// newBenchClient serves benchAdderImpl on tr and returns a client of it.
// Everything is stopped, and checked for leaked goroutines, when the
// benchmark ends.
func newBenchClient(b *testing.B, tr runtime.Transport) *runtime.Client {
	b.Helper()
	// Benchmarks run beside the testing package's own goroutines; only
	// those started here must be gone at the end.
	before := goleak.IgnoreCurrent()
	b.Cleanup(func() { goleak.VerifyNone(b, before) }) // runs last
	srv := runtime.NewServer(tr)
	if err := srv.RegisterService(&benchAdderDesc, benchAdderImpl{}); err != nil {
		b.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		b.Fatal(err)
	}
	cl, err := runtime.NewClient(tr)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = cl.Close()
		srv.GracefulStop()
		_ = tr.Close()
	})
	// One call first, so that setup is not measured.
	if sum, err := benchAdd(context.Background(), cl, 2, 3); err != nil || sum != 5 {
		b.Fatalf("Add(2, 3) = %d, %v", sum, err)
	}
	return cl
}

var benchSink int

// BenchmarkInvokeMemtransport is one call through the whole runtime and
// an in-process queue: encode, memtransport (a copy of each message, a
// dispatcher and a worker goroutine), dispatch, handler, reply, decode.
func BenchmarkInvokeMemtransport(b *testing.B) {
	benchmarkInvoke(b, memtransport.New())
}

// BenchmarkInvokeLoopback is the same call over a transport that costs
// nothing: the runtime's own overhead, client and server.
func BenchmarkInvokeLoopback(b *testing.B) {
	benchmarkInvoke(b, &loopback{})
}

func benchmarkInvoke(b *testing.B, tr runtime.Transport) {
	cl := newBenchClient(b, tr)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		sum, err := benchAdd(ctx, cl, 2, 3)
		if err != nil {
			b.Fatal(err)
		}
		benchSink = sum
	}
}

// loopback is a transport with no cost of its own, for one client and one
// server: it runs the server's handler on the goroutine that sends the
// request, and hands the reply straight to the client.
type loopback struct {
	replies func(*runtime.Message)
	handler runtime.MessageHandler
}

func (l *loopback) ListenReplies(h func(*runtime.Message)) error {
	l.replies = h
	return nil
}

func (l *loopback) Request(ctx context.Context, msg *runtime.Message) error {
	return l.handler(ctx, msg)
}

func (l *loopback) Send(ctx context.Context, msg *runtime.Message) error {
	return l.handler(ctx, msg)
}

func (l *loopback) Subscribe(_, _ string, h runtime.MessageHandler) (runtime.Subscription, error) {
	l.handler = h
	return l, nil
}

func (l *loopback) Reply(_ context.Context, _, reply *runtime.Message) error {
	l.replies(reply)
	return nil
}

func (l *loopback) Stop() error  { return nil }
func (l *loopback) Close() error { return nil }

// BenchmarkDirectCall is the same Add called on the implementation, through
// the interface as the server does: the floor the runtime adds to.
func BenchmarkDirectCall(b *testing.B) {
	var impl benchAdder = benchAdderImpl{}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		sum, err := impl.Add(ctx, 2, 3)
		if err != nil {
			b.Fatal(err)
		}
		benchSink = sum
	}
}

// BenchmarkInvokeParallel makes calls from GOMAXPROCS goroutines over one
// client and server.
func BenchmarkInvokeParallel(b *testing.B) {
	cl := newBenchClient(b, memtransport.New())
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if sum, err := benchAdd(ctx, cl, 2, 3); err != nil || sum != 5 {
				b.Errorf("Add(2, 3) = %d, %v", sum, err)
				return
			}
		}
	})
}
