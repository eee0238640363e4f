package transporttest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mqrpc/mqrpc/codec"
	"github.com/mqrpc/mqrpc/runtime"
)

// These tests hold the runtime's call semantics on top of the transport.

func testCallSucceeds(t *testing.T, cfg *Config) {
	e := newEnv(t, cfg, envOptions{})
	cases := []struct {
		name string
		s    string
		b    []byte
	}{
		{"text and bytes", "hello", []byte{0, 1, 2, 255}},
		{"empty string, nil bytes", "", nil},
		{"empty bytes", "x", []byte{}},
		{"every byte", strings.Repeat("é", 100), allBytes()},
	}
	for _, c := range cases {
		got, err := e.echo(e.ctx(), c.s, c.b)
		if err != nil {
			t.Fatalf("%s: Echo: %v", c.name, err)
		}
		if got.S != c.s || !bytes.Equal(got.B, c.b) || (got.B == nil) != (c.b == nil) {
			t.Errorf("%s: Echo returned %q %v, want %q %v", c.name, got.S, got.B, c.s, c.b)
		}
	}
}

func testHandlerErrors(t *testing.T, cfg *Config) {
	e := newEnv(t, cfg, envOptions{})
	cases := []struct {
		name string
		in   failArgs
		want runtime.Error
	}{
		{"plain error is Unknown with its text", failArgs{Msg: "disk on fire", Plain: true}, runtime.Error{Code: runtime.Unknown, Message: "disk on fire"}},
		{"*Error keeps its code", failArgs{Code: runtime.NotFound, Msg: "no such user"}, runtime.Error{Code: runtime.NotFound, Message: "no such user"}},
		{"*Error keeps its details", failArgs{Code: runtime.FailedPrecondition, Msg: "m", Details: []byte{1, 2, 3}}, runtime.Error{Code: runtime.FailedPrecondition, Message: "m", Details: []byte{1, 2, 3}}},
		{"Aborted", failArgs{Code: runtime.Aborted, Msg: "conflict"}, runtime.Error{Code: runtime.Aborted, Message: "conflict"}},
	}
	for _, c := range cases {
		err := e.client.Invoke(e.ctx(), method("Fail"), &c.in, nil)
		var got *runtime.Error
		if !errors.As(err, &got) {
			t.Fatalf("%s: got %v, want *runtime.Error", c.name, err)
		}
		if got.Code != c.want.Code || got.Message != c.want.Message || !bytes.Equal(got.Details, c.want.Details) {
			t.Errorf("%s: got {%v %q %v}, want {%v %q %v}", c.name, got.Code, got.Message, got.Details, c.want.Code, c.want.Message, c.want.Details)
		}
	}
}

func testPanic(t *testing.T, cfg *Config) {
	e := newEnv(t, cfg, envOptions{})
	err := e.client.Invoke(e.ctx(), method("Panic"), &noArgs{}, nil)
	wantCode(t, err, runtime.Internal)
	if _, err := e.echo(e.ctx(), "still there?", nil); err != nil {
		t.Fatalf("call after a handler panic: %v", err)
	}
}

func testUnknownMethod(t *testing.T, cfg *Config) {
	e := newEnv(t, cfg, envOptions{})
	err := e.client.Invoke(e.ctx(), method("Nope"), &noArgs{}, nil)
	wantCode(t, err, runtime.Unimplemented)
	if !strings.Contains(err.Error(), "Nope") {
		t.Errorf("error %q does not name the method", err)
	}
}

func testUndecodableBody(t *testing.T, cfg *Config) {
	e := newEnv(t, cfg, envOptions{})
	raw := newTransport(t, cfg)
	replies := replySink(t, raw)
	props := map[string]string{
		runtime.PropMethod:   method("Echo"),
		runtime.PropCodec:    "msgpack",
		runtime.PropVersion:  runtime.ProtocolVersion,
		runtime.PropDeadline: fmt.Sprint(time.Now().Add(cfg.Patience).UnixMilli()),
	}
	if err := raw.Request(e.ctx(), rawRequest(e.topic, "garbage-1", []byte{0xc1, 0xff, 0x00}, props)); err != nil {
		t.Fatalf("Request: %v", err)
	}
	reply := receive(t, cfg, replies, "reply to an undecodable request")
	if got := reply.Properties[runtime.PropStatus]; got != fmt.Sprint(uint32(runtime.InvalidArgument)) {
		t.Errorf("status = %q, want InvalidArgument (%d); message %q", got, runtime.InvalidArgument, reply.Properties[runtime.PropMessage])
	}
	if _, err := e.echo(e.ctx(), "still serving", nil); err != nil {
		t.Fatalf("call after a malformed request: %v", err)
	}
}

func testOversizeRequest(t *testing.T, cfg *Config) {
	e := newEnv(t, cfg, envOptions{client: []runtime.ClientOption{runtime.WithMaxMessageSize(1024)}})
	_, err := e.echo(e.ctx(), "", make([]byte, 2048))
	wantCode(t, err, runtime.ResourceExhausted)
	if _, err := e.echo(e.ctx(), "small", nil); err != nil {
		t.Fatalf("small call: %v", err)
	}
	if n := e.probe.count("Echo").Load(); n != 1 {
		t.Errorf("server ran Echo %d times, want 1: the oversize call must not be sent", n)
	}
}

func testOversizeReply(t *testing.T, cfg *Config) {
	e := newEnv(t, cfg, envOptions{server: []runtime.ServerOption{runtime.WithMaxMessageSize(1024)}})
	_, err := e.echo(e.ctx(), "", make([]byte, 900))
	if err != nil {
		t.Fatalf("request under the server's limit: %v", err)
	}
	// The request is under the limit, its reply over it.
	_, err = e.echo(runtime.AppendOutgoingMetadata(e.ctx(), "repeat", "3"), "", make([]byte, 600))
	wantCode(t, err, runtime.ResourceExhausted)
}

// testOversizeRequestAtServer sends, past any client's check, a request
// over the server's max message size: the server answers ResourceExhausted
// and does not run the handler.
func testOversizeRequestAtServer(t *testing.T, cfg *Config) {
	e := newEnv(t, cfg, envOptions{server: []runtime.ServerOption{runtime.WithMaxMessageSize(1024)}})
	raw := newTransport(t, cfg)
	replies := replySink(t, raw)
	body, err := codec.Msgpack.Marshal(&echoArgs{B: make([]byte, 2048)})
	if err != nil {
		t.Fatal(err)
	}
	props := map[string]string{
		runtime.PropMethod:   method("Echo"),
		runtime.PropVersion:  runtime.ProtocolVersion,
		runtime.PropDeadline: fmt.Sprint(time.Now().Add(cfg.Patience).UnixMilli()),
	}
	if err := raw.Request(e.ctx(), rawRequest(e.topic, "oversize-1", body, props)); err != nil {
		t.Fatalf("Request: %v", err)
	}
	reply := receive(t, cfg, replies, "reply to an oversize request")
	if got := reply.Properties[runtime.PropStatus]; got != fmt.Sprint(uint32(runtime.ResourceExhausted)) {
		t.Errorf("status = %q, want ResourceExhausted (%d); message %q", got, runtime.ResourceExhausted, reply.Properties[runtime.PropMessage])
	}
	if n := e.probe.count("Echo").Load(); n != 0 {
		t.Errorf("server ran Echo %d times, want none", n)
	}
}

// testCallerReturnsAtDeadline checks the server's side of a deadline: the
// handler's context ends with the caller's deadline, and its
// DeadlineExceeded reply arrives about when the caller gives up.
// testNoReplyDeadline checks the caller's own timer.
func testCallerReturnsAtDeadline(t *testing.T, cfg *Config) {
	e := newEnv(t, cfg, envOptions{})
	const timeout = 500 * time.Millisecond
	for _, how := range deadlineWays {
		ctx, opts, deadline, cancel := bounded(context.Background(), how, timeout)
		err := e.client.Invoke(ctx, method("Block"), &idArgs{ID: how}, nil, opts...)
		late := time.Since(deadline)
		cancel()
		wantCode(t, err, runtime.DeadlineExceeded)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s: errors.Is(%v, context.DeadlineExceeded) is false", how, err)
		}
		// The deadline travels in whole milliseconds, so the handler's
		// context may end, and its DeadlineExceeded reply arrive, up to
		// 1 ms before the caller's own deadline.
		if late < -time.Millisecond || late > cfg.Slack {
			t.Errorf("%s: call returned %v after its deadline, want within [-1ms, %v]", how, late, cfg.Slack)
		}
	}
}

// deadlineWays are the two ways a caller bounds a call; see bounded.
var deadlineWays = []string{"ctx deadline", "WithTimeout"}

// bounded returns what makes a call under parent end timeout from now, the
// way how says: a context with that deadline, or runtime.WithTimeout. It
// also returns the deadline and what releases the context.
func bounded(parent context.Context, how string, timeout time.Duration) (context.Context, []runtime.CallOption, time.Time, context.CancelFunc) {
	deadline := time.Now().Add(timeout)
	if how == "ctx deadline" {
		ctx, cancel := context.WithDeadline(parent, deadline)
		return ctx, nil, deadline, cancel
	}
	return parent, []runtime.CallOption{runtime.WithTimeout(timeout)}, deadline, func() {}
}

// testNoReplyDeadline makes calls that no reply can end, because no server
// consumes their topic: only the caller's own deadline can, and it must,
// within the slack. The WithTimeout call runs under a ctx whose deadline is
// the suite's patience, so that a client without a timer of its own for
// WithTimeout returns that late, not never.
func testNoReplyDeadline(t *testing.T, cfg *Config) {
	e := newEnv(t, cfg, envOptions{noStart: true})
	const timeout = 300 * time.Millisecond
	for _, how := range deadlineWays {
		ctx, opts, deadline, cancel := bounded(e.ctx(), how, timeout)
		_, err := e.echo(ctx, how, nil, opts...)
		late := time.Since(deadline)
		cancel()
		wantCode(t, err, runtime.DeadlineExceeded)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s: errors.Is(%v, context.DeadlineExceeded) is false", how, err)
		}
		if late < 0 || late > cfg.Slack {
			t.Errorf("%s: call with no reply returned %v after its deadline, want within [0, %v]", how, late, cfg.Slack)
		}
		if n := e.client.Stats().Pending; n != 0 {
			t.Errorf("%s: %d calls still pending after the deadline", how, n)
		}
	}
}

// slowRequests stores each request, then takes delay more to return, as the
// acknowledgement of a busy broker can.
type slowRequests struct {
	runtime.Transport
	delay time.Duration
}

func (s slowRequests) Request(ctx context.Context, m *runtime.Message) error {
	err := s.Transport.Request(ctx, m)
	t := time.NewTimer(s.delay)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
	return err
}

// testSlowSendDeadline checks that the time a send takes counts against the
// call's deadline: a call whose request took half its timeout to be stored
// still returns at its deadline, not that much later.
func testSlowSendDeadline(t *testing.T, cfg *Config) {
	delay := 2 * cfg.Slack
	timeout := 2 * delay
	e := newEnv(t, cfg, envOptions{
		noStart:     true,
		clientTrans: func(tr runtime.Transport) runtime.Transport { return slowRequests{tr, delay} },
	})
	for _, how := range deadlineWays {
		ctx, opts, deadline, cancel := bounded(e.ctx(), how, timeout)
		_, err := e.echo(ctx, how, nil, opts...)
		late := time.Since(deadline)
		cancel()
		wantCode(t, err, runtime.DeadlineExceeded)
		if late < 0 || late > cfg.Slack {
			t.Errorf("%s: call whose send took %v returned %v after its deadline, want within [0, %v]", how, delay, late, cfg.Slack)
		}
	}
}

func testHandlerGetsDeadline(t *testing.T, cfg *Config) {
	e := newEnv(t, cfg, envOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), cfg.Patience)
	defer cancel()
	want, _ := ctx.Deadline()
	errc := make(chan error, 1)
	go func() { errc <- e.client.Invoke(ctx, method("Block"), &idArgs{}, nil) }()
	b := e.awaitBlocked()
	if !b.hasDeadline {
		t.Fatal("handler context has no deadline")
	}
	// The deadline travels in whole milliseconds.
	if d := b.deadline.Sub(want); d > 0 || d <= -time.Millisecond {
		t.Errorf("handler deadline %v, caller's %v", b.deadline, want)
	}
	close(b.release)
	if err := <-errc; err != nil {
		t.Fatalf("Block: %v", err)
	}
}

func testExpiredRequestNotRun(t *testing.T, cfg *Config) {
	e := newEnv(t, cfg, envOptions{noStart: true})
	const timeout = 100 * time.Millisecond
	start := time.Now()
	err := e.client.Invoke(e.ctx(), method("Block"), &idArgs{ID: "expired"}, nil, runtime.WithTimeout(timeout))
	late := time.Since(start) - timeout
	wantCode(t, err, runtime.DeadlineExceeded)
	if late < 0 || late > cfg.Slack {
		t.Errorf("call with no server returned %v after its deadline, want within [0, %v]", late, cfg.Slack)
	}
	e.start(e.server)
	eventually(t, cfg, "the server sees the expired request", func() bool { return e.server.Stats().Expired == 1 })
	if n := e.probe.count("Block").Load(); n != 0 {
		t.Errorf("handler ran %d times for a request whose deadline had passed", n)
	}
}

func testCancel(t *testing.T, cfg *Config) {
	e := newEnv(t, cfg, envOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- e.client.Invoke(ctx, method("Echo"), &echoArgs{}, nil) }()
	go func() { errc <- e.client.Invoke(ctx, method("Block"), &idArgs{}, nil) }()
	if err := <-errc; err != nil {
		t.Fatalf("Echo: %v", err)
	}
	b := e.awaitBlocked()
	start := time.Now()
	cancel()
	err := <-errc
	wantCode(t, err, runtime.Canceled)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("errors.Is(%v, context.Canceled) is false", err)
	}
	if d := time.Since(start); d > cfg.Slack {
		t.Errorf("cancelled call returned after %v", d)
	}
	close(b.release) // the handler now replies to a caller who has gone
	eventually(t, cfg, "the late reply is dropped", func() bool { return e.client.Stats().DroppedReplies == 1 })
	if n := e.client.Stats().Pending; n != 0 {
		t.Errorf("%d calls still pending", n)
	}
}

func testCallBeforeServer(t *testing.T, cfg *Config) {
	var stored atomic.Int64
	e := newEnv(t, cfg, envOptions{
		noStart:     true,
		clientTrans: func(tr runtime.Transport) runtime.Transport { return countingRequests{tr, &stored} },
	})
	errc := make(chan error, 1)
	go func() {
		_, err := e.echo(e.ctx(), "queued", nil)
		errc <- err
	}()
	// Pending counts the call before it reaches the transport; the server
	// must start only once the broker holds the request.
	eventually(t, cfg, "the request is stored", func() bool { return stored.Load() == 1 })
	e.start(e.server)
	if err := <-errc; err != nil {
		t.Fatalf("call sent before the server started: %v", err)
	}
}

// duplicating delivers every request twice, as a queue may.
type duplicating struct{ runtime.Transport }

func (d duplicating) Request(ctx context.Context, m *runtime.Message) error {
	if err := d.Transport.Request(ctx, m); err != nil {
		return err
	}
	return d.Transport.Request(ctx, m)
}

func testDuplicateDelivery(t *testing.T, cfg *Config) {
	e := newEnv(t, cfg, envOptions{clientTrans: func(tr runtime.Transport) runtime.Transport { return duplicating{tr} }})
	for i := range 5 {
		if _, err := e.echo(e.ctx(), fmt.Sprint(i), nil); err != nil {
			t.Fatalf("Echo: %v", err)
		}
	}
	eventually(t, cfg, "every duplicate is seen", func() bool { return e.server.Stats().Duplicates == 5 })
	if n := e.probe.count("Echo").Load(); n != 5 {
		t.Errorf("handler ran %d times for 5 calls delivered twice each", n)
	}
}

func testFirstReplyWins(t *testing.T, cfg *Config) {
	client, server := newTransport(t, cfg), newTransport(t, cfg)
	topic := uniqueTopic(t)
	requests := subscribe(t, server, topic, runtime.GroupFor(topic))
	c, err := runtime.NewClient(client, runtime.WithCallOptions(runtime.WithTopic(topic)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	errc := make(chan error, 1)
	var out echoArgs
	go func() { errc <- c.Invoke(context.Background(), method("Echo"), &echoArgs{}, &out) }()
	req := receive(t, cfg, requests, "request")
	for _, s := range []string{"first", "second"} {
		body, _ := codec.Msgpack.Marshal(&echoArgs{S: s})
		reply := &runtime.Message{Properties: map[string]string{runtime.PropCorrelationID: req.Properties[runtime.PropCorrelationID]}, Body: body}
		if err := server.Reply(context.Background(), req, reply); err != nil {
			t.Fatalf("Reply: %v", err)
		}
	}
	if err := <-errc; err != nil {
		t.Fatalf("Invoke: %v", err)
	}
	if out.S != "first" {
		t.Errorf("got reply %q, want first", out.S)
	}
	eventually(t, cfg, "the second reply is dropped", func() bool { return c.Stats().DroppedReplies == 1 })
}

func testConcurrentCalls(t *testing.T, cfg *Config) {
	e := newEnv(t, cfg, envOptions{})
	const workers = 16
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < cfg.Calls; i += workers {
				want := fmt.Sprintf("call-%d", i)
				got, err := e.echo(e.ctx(), want, []byte(want))
				if err != nil {
					errs <- fmt.Errorf("call %d: %w", i, err)
					return
				}
				if got.S != want || string(got.B) != want {
					errs <- fmt.Errorf("call %d got the answer %q/%q", i, got.S, got.B)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := e.client.Stats().Pending; n != 0 {
		t.Errorf("%d calls still pending after all returned", n)
	}
}
