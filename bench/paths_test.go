package bench

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"

	"github.com/mqrpc/mqrpc/bench/echo"
	"github.com/mqrpc/mqrpc/examples/calculator/calculator"
	"github.com/mqrpc/mqrpc/runtime"
	"github.com/mqrpc/mqrpc/runtime/memtransport"
	"github.com/mqrpc/mqrpc/runtime/rocketmq"
)

// A path is one way of making the same call. Every path's echo returns
// the payload it was sent; add adds 2 and 3 (on the paths without a typed
// calculator it echoes the 3 bytes of the msgpack arguments [2, 3]).
type path struct {
	echo func(ctx context.Context, p []byte) ([]byte, error)
	add  func(ctx context.Context) error
	// hold makes a call that no server answers before ctx ends.
	hold func(ctx context.Context) error
	// settled reports whether every call has let go of its memory.
	settled func() bool
}

// The Go paths; "java" is driven separately (runJava).
var goPaths = []string{"mqrpc", "raw", "grpc", "mem", "direct"}

// addArgs is what mqrpc sends for Add(2, 3): the msgpack array [2, 3].
var addArgs = []byte{0x92, 0x02, 0x03}

var (
	pathsMu sync.Mutex
	paths   = map[string]*path{}
)

// getPath returns the named path, set up on first use and kept for the
// whole run (its clients are warmed up, as a long-running process's are).
func getPath(b *testing.B, name string) *path {
	b.Helper()
	pathsMu.Lock()
	defer pathsMu.Unlock()
	if p, ok := paths[name]; ok {
		return p
	}
	var p *path
	var err error
	switch name {
	case "mqrpc":
		p, err = mqrpcPath(b)
	case "raw":
		p, err = rawPath(b)
	case "grpc":
		p, err = grpcPath(b)
	case "mem":
		p, err = memPath()
	case "direct":
		p = directPath()
	default:
		err = fmt.Errorf("no path %q", name)
	}
	if err != nil {
		b.Fatalf("path %s: %v", name, err)
	}
	if err := warmUp(p); err != nil {
		b.Fatalf("path %s: warm-up: %v", name, err)
	}
	paths[name] = p
	return p
}

// warmUp makes a few calls of every kind and discards them.
func warmUp(p *path) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for range 20 {
		if _, err := p.echo(ctx, make([]byte, 1024)); err != nil {
			return err
		}
		if err := p.add(ctx); err != nil {
			return err
		}
	}
	return nil
}

func mqrpcPath(b *testing.B) (*path, error) {
	ensureServer(b)
	tr, err := rocketmq.New(rocketmq.Config{NameServers: []string{nameServer(b)}, Group: "bench_" + runID + "_client"})
	if err != nil {
		return nil, err
	}
	c, err := runtime.NewClient(tr)
	if err != nil {
		return nil, err
	}
	return generatedPath(c, server.topics.echo, server.topics.calc, server.topics.hold), nil
}

// generatedPath calls through the generated clients on c.
func generatedPath(c *runtime.Client, echoTopic, calcTopic, holdTopic string) *path {
	e := echo.NewEchoClient(c, runtime.WithTopic(echoTopic))
	calc := calculator.NewCalculatorClient(c, runtime.WithTopic(calcTopic))
	held := echo.NewEchoClient(c, runtime.WithTopic(holdTopic))
	return &path{
		echo: e.Echo,
		add: func(ctx context.Context) error {
			sum, err := calc.Add(ctx, 2, 3)
			if err == nil && sum != 5 {
				err = fmt.Errorf("Add(2, 3) = %d", sum)
			}
			return err
		},
		hold: func(ctx context.Context) error {
			_, err := held.Echo(ctx, []byte{echo.HoldMark})
			return err
		},
		settled: func() bool { return c.Stats().Pending == 0 },
	}
}

func rawPath(b *testing.B) (*path, error) {
	ensureServer(b)
	group := "bench_" + runID + "_rawclient"
	p, err := producer.NewDefaultProducer(
		producer.WithNsResolver(primitive.NewPassthroughResolver([]string{nameServer(b)})),
		producer.WithGroupName(group),
		producer.WithInstanceName(group),
		producer.WithRetry(2))
	if err != nil {
		return nil, err
	}
	if err := p.Start(); err != nil {
		return nil, err
	}
	call := func(ctx context.Context, topic string, body []byte) ([]byte, error) {
		timeout := 10 * time.Second
		if d, ok := ctx.Deadline(); ok {
			timeout = time.Until(d)
		}
		r, err := p.Request(ctx, timeout, primitive.NewMessage(topic, body))
		if err != nil {
			return nil, err
		}
		if r == nil {
			return nil, errors.New("no reply")
		}
		return r.Body, nil
	}
	// The producer must have heartbeated to the brokers before a reply can
	// be pushed to it: until then replies are lost ("channel not found")
	// and Request times out. Warm up until calls succeed, and discard them.
	deadline := time.Now().Add(60 * time.Second)
	for ok := 0; ok < 5; {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, err := call(ctx, server.topics.raw, addArgs)
		cancel()
		if err == nil {
			ok++
		} else if time.Now().After(deadline) {
			return nil, fmt.Errorf("raw client gets no replies: %w", err)
		}
	}
	return &path{
		echo: func(ctx context.Context, body []byte) ([]byte, error) { return call(ctx, server.topics.raw, body) },
		add: func(ctx context.Context) error {
			_, err := call(ctx, server.topics.raw, addArgs)
			return err
		},
		hold: func(ctx context.Context) error {
			_, err := call(ctx, server.topics.hold, []byte{echo.HoldMark})
			return err
		},
		settled: func() bool { return true },
	}, nil
}

func grpcPath(b *testing.B) (*path, error) {
	ensureServer(b)
	conn, err := dialGRPC(server.grpcAddr)
	if err != nil {
		return nil, err
	}
	call := func(ctx context.Context, body []byte) ([]byte, error) {
		var out []byte
		err := conn.Invoke(ctx, grpcEchoMethod, &body, &out)
		return out, err
	}
	return &path{
		echo: call,
		add: func(ctx context.Context) error {
			_, err := call(ctx, addArgs)
			return err
		},
		hold: func(ctx context.Context) error {
			_, err := call(ctx, []byte{echo.HoldMark})
			return err
		},
		settled: func() bool { return true },
	}, nil
}

// memPath serves in this process over memtransport. The hold topic has no
// server: its requests stay in the in-process broker.
func memPath() (*path, error) {
	tr := memtransport.New()
	srv := runtime.NewServer(tr)
	if err := echo.RegisterEcho(srv, echo.Server{}); err != nil {
		return nil, err
	}
	if err := calculator.RegisterCalculator(srv, calculator.Server{}); err != nil {
		return nil, err
	}
	if err := srv.Start(); err != nil {
		return nil, err
	}
	c, err := runtime.NewClient(tr)
	if err != nil {
		return nil, err
	}
	return generatedPath(c, runtime.TopicFor(echo.EchoServiceName), runtime.TopicFor(calculator.CalculatorServiceName), "bench_mem_hold"), nil
}

// directPath calls the implementations through their interfaces.
func directPath() *path {
	var e echo.Echo = echo.Server{}
	var calc calculator.Calculator = calculator.Server{}
	return &path{
		echo: e.Echo,
		add: func(ctx context.Context) error {
			_, err := calc.Add(ctx, 2, 3)
			return err
		},
		hold: func(ctx context.Context) error {
			_, err := e.Echo(ctx, []byte{echo.HoldMark})
			return err
		},
		settled: func() bool { return true },
	}
}
