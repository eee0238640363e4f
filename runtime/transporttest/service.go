package transporttest

import (
	"bytes"
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mqrpc/mqrpc/runtime"
)

// serviceName is the service the suite serves; each test gets a topic of its
// own so that tests cannot see each other's messages on a shared broker.
const serviceName = "mqrpctest.Probe"

// probe is the service the suite calls. Its descriptor is written the way
// mqrpcgen writes one, so the suite exercises the same runtime paths as
// generated code.
type probe interface {
	Echo(ctx context.Context, s string, b []byte) (string, []byte, error)
	Fail(ctx context.Context, code runtime.Code, msg string, details []byte, plain bool) error
	Panic(ctx context.Context) error
	Block(ctx context.Context, id string) error
	Notify(ctx context.Context, s string) error
}

type echoArgs struct {
	_msgpack struct{} `msgpack:",as_array"`
	S        string
	B        []byte
}

type failArgs struct {
	_msgpack struct{} `msgpack:",as_array"`
	Code     runtime.Code
	Msg      string
	Details  []byte
	Plain    bool
}

type idArgs struct {
	_msgpack struct{} `msgpack:",as_array"`
	ID       string
}

type noArgs struct {
	_msgpack struct{} `msgpack:",as_array"`
}

var probeDesc = runtime.ServiceDesc{
	ServiceName: serviceName,
	HandlerType: (*probe)(nil),
	Methods: []runtime.MethodDesc{
		{
			Name:    "Echo",
			NewArgs: func() any { return new(echoArgs) },
			Call: func(ctx context.Context, impl any, args any) (any, error) {
				in := args.(*echoArgs)
				s, b, err := impl.(probe).Echo(ctx, in.S, in.B)
				if err != nil {
					return nil, err
				}
				return &echoArgs{S: s, B: b}, nil
			},
		},
		{
			Name:    "Fail",
			NewArgs: func() any { return new(failArgs) },
			Call: func(ctx context.Context, impl any, args any) (any, error) {
				in := args.(*failArgs)
				return nil, impl.(probe).Fail(ctx, in.Code, in.Msg, in.Details, in.Plain)
			},
		},
		{
			Name:    "Panic",
			NewArgs: func() any { return new(noArgs) },
			Call: func(ctx context.Context, impl any, args any) (any, error) {
				return nil, impl.(probe).Panic(ctx)
			},
		},
		{
			Name:    "Block",
			NewArgs: func() any { return new(idArgs) },
			Call: func(ctx context.Context, impl any, args any) (any, error) {
				return nil, impl.(probe).Block(ctx, args.(*idArgs).ID)
			},
		},
		{
			Name:    "Notify",
			OneWay:  true,
			NewArgs: func() any { return new(idArgs) },
			Call: func(ctx context.Context, impl any, args any) (any, error) {
				return nil, impl.(probe).Notify(ctx, args.(*idArgs).ID)
			},
		},
	},
}

func method(name string) string { return runtime.FullMethodName(serviceName, name) }

// blocked is a Block call in progress on the server.
type blocked struct {
	deadline    time.Time
	hasDeadline bool
	release     chan struct{}
}

// probeServer implements probe and lets tests watch and steer handlers.
type probeServer struct {
	calls    sync.Map // method name -> *atomic.Int64
	started  chan blocked
	notified chan string

	// blocking is how many Block calls are running, and peak the most
	// that ever ran at once.
	blocking, peak atomic.Int64
}

func newProbeServer() *probeServer {
	return &probeServer{started: make(chan blocked, 64), notified: make(chan string, 64)}
}

func (p *probeServer) count(name string) *atomic.Int64 {
	v, _ := p.calls.LoadOrStore(name, new(atomic.Int64))
	return v.(*atomic.Int64)
}

func (p *probeServer) Echo(ctx context.Context, s string, b []byte) (string, []byte, error) {
	p.count("Echo").Add(1)
	if md := runtime.IncomingMetadata(ctx); md != nil {
		for k, v := range md {
			runtime.SetTrailer(ctx, "echo-"+k, v)
		}
	}
	// "repeat: n" makes the reply larger than the request.
	if n, err := strconv.Atoi(runtime.IncomingMetadata(ctx).Get("repeat")); err == nil && n > 1 {
		b = bytes.Repeat(b, n)
	}
	return s, b, nil
}

func (p *probeServer) Fail(_ context.Context, code runtime.Code, msg string, details []byte, plain bool) error {
	p.count("Fail").Add(1)
	if plain {
		return errorString(msg)
	}
	return &runtime.Error{Code: code, Message: msg, Details: details}
}

func (p *probeServer) Panic(context.Context) error {
	p.count("Panic").Add(1)
	panic("probe panic")
}

// Block tells the test it started, with the deadline it was given, and
// returns when the test releases it or its context ends.
func (p *probeServer) Block(ctx context.Context, id string) error {
	p.count("Block").Add(1)
	n := p.blocking.Add(1)
	defer p.blocking.Add(-1)
	for {
		peak := p.peak.Load()
		if n <= peak || p.peak.CompareAndSwap(peak, n) {
			break
		}
	}
	d, ok := ctx.Deadline()
	b := blocked{deadline: d, hasDeadline: ok, release: make(chan struct{})}
	p.started <- b
	select {
	case <-b.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (p *probeServer) Notify(_ context.Context, s string) error {
	p.count("Notify").Add(1)
	p.notified <- s
	return nil
}

type errorString string

func (e errorString) Error() string { return string(e) }
