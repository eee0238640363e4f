// Package transporttest is the conformance suite every mqrpc transport must
// pass. A transport's own test calls Run with a function that connects a new
// transport to one shared broker:
//
//	func TestConformance(t *testing.T) {
//		broker := memtransport.NewBroker()
//		transporttest.Run(t, transporttest.Config{
//			NewTransport: func(t testing.TB) runtime.Transport { return broker.NewTransport() },
//		})
//	}
//
// The suite checks the transport contract on raw messages, then the runtime's
// call semantics on top of it: errors, deadlines, cancellation, queueing
// before a server exists, redelivery, concurrency, metadata, interceptors,
// one-way calls and shutdown.
package transporttest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/mqrpc/mqrpc/runtime"
)

// Config tells the suite how to reach the transport under test.
type Config struct {
	// NewTransport returns a new transport connected to the broker every
	// other transport of the run uses. The suite closes it.
	NewTransport func(t testing.TB) runtime.Transport
	// Calls is how many concurrent calls the load test makes (default
	// 10,000).
	Calls int
	// Slack is how long past its deadline a call may take to return; it
	// covers scheduling noise, not a janitor tick (default 250 ms).
	Slack time.Duration
	// Patience bounds how long the suite waits for a condition that should
	// hold soon, such as a message being delivered (default 30 s).
	Patience time.Duration
	// OrderedLoad sizes RunOrdered's load test (default 4 clients, 20
	// keys, 100 calls per key and client).
	OrderedLoad OrderedLoad
}

func (c *Config) defaults() {
	if c.Calls == 0 {
		c.Calls = 10_000
	}
	if c.Slack == 0 {
		c.Slack = 250 * time.Millisecond
	}
	if c.Patience == 0 {
		c.Patience = 30 * time.Second
	}
}

// suiteTest is one test of the suite.
type suiteTest struct {
	name string
	fn   func(*testing.T, *Config)
}

// timingTests hold calls to bounds of a few hundred milliseconds: a
// deadline, a cancel, a refusal at once. They run in parallel with each
// other but apart from the rest of the suite, whose thousands of
// concurrent calls would otherwise share the machine with them.
var timingTests = []suiteTest{
	{"CallerReturnsAtDeadline", testCallerReturnsAtDeadline},
	{"CallerReturnsAtDeadlineWhenNoReplyComes", testNoReplyDeadline},
	{"CallerReturnsAtDeadlineAfterASlowSend", testSlowSendDeadline},
	{"HandlerGetsCallerDeadline", testHandlerGetsDeadline},
	{"CancelReturnsAtOnceAndLateReplyIsDropped", testCancel},
	{"MaxPendingRefusesCallsAtOnce", testMaxPending},
}

// otherTests are the rest of the suite, the load tests among them.
var otherTests = []suiteTest{
	{"MessageRoundTripsExactly", testMessageRoundTrip},
	{"ReplyReachesItsOwnClient", testReplyReachesItsOwnClient},
	{"SendIsDelivered", testSendIsDelivered},
	{"RequestBeforeSubscribeIsDelivered", testRequestBeforeSubscribe},
	{"GroupMembersShareMessages", testGroupShares},
	{"HandlerErrorRedelivers", testHandlerErrorRedelivers},
	{"RedeliveryCountsAttempts", testRedeliveryCountsAttempts},
	{"DeadLetterIsNotDeliveredAgain", testDeadLetterIsNotDeliveredAgain},
	{"MessagesCarryTimes", testMessagesCarryTimes},
	{"CallSucceeds", testCallSucceeds},
	{"HandlerErrorsMapToCodes", testHandlerErrors},
	{"PanicIsInternalAndServerKeepsServing", testPanic},
	{"UnknownMethodIsUnimplemented", testUnknownMethod},
	{"UndecodableBodyIsInvalidArgument", testUndecodableBody},
	{"OversizeRequestFailsBeforeSend", testOversizeRequest},
	{"OversizeReplyIsResourceExhausted", testOversizeReply},
	{"OversizeRequestIsRefusedByServer", testOversizeRequestAtServer},
	{"ExpiredRequestIsNotRun", testExpiredRequestNotRun},
	{"CallSentBeforeServerStartsSucceeds", testCallBeforeServer},
	{"DuplicateDeliveryRunsOnce", testDuplicateDelivery},
	{"FirstReplyWins", testFirstReplyWins},
	{"ConcurrentCallsGetTheirOwnAnswers", testConcurrentCalls},
	{"MetadataTravelsBothWays", testMetadata},
	{"InterceptorsRunInOrder", testInterceptors},
	{"OneWayCallIsDelivered", testOneWay},
	{"GracefulStopFinishesInFlightCalls", testGracefulStop},
	{"MaxConcurrencyBoundsRunningHandlers", testMaxConcurrency},
	{"ClientCloseFailsPendingCalls", testClientClose},
}

// Run runs the whole suite as subtests of t: first the timing tests, in
// parallel with each other, then the rest, in parallel with each other.
func Run(t *testing.T, cfg Config) {
	cfg.defaults()
	for _, group := range []struct {
		name  string
		tests []suiteTest
	}{{"Timing", timingTests}, {"Behaviour", otherTests}} {
		t.Run(group.name, func(t *testing.T) {
			for _, tc := range group.tests {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					tc.fn(t, &cfg)
				})
			}
		})
	}
}

// uniqueTopic returns a topic no other test or earlier run has used.
func uniqueTopic(t *testing.T) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	name := t.Name()
	name = name[strings.LastIndexByte(name, '/')+1:]
	if len(name) > 60 {
		name = name[:60]
	}
	return runtime.TopicFor("mqrpctest." + name + "." + hex.EncodeToString(b[:]))
}

// newTransport returns a transport that is closed when the test ends.
func newTransport(t *testing.T, cfg *Config) runtime.Transport {
	t.Helper()
	tr := cfg.NewTransport(t)
	t.Cleanup(func() {
		if err := tr.Close(); err != nil {
			t.Errorf("close transport: %v", err)
		}
	})
	return tr
}

// env is a client and a server of the probe service on a topic of their own.
type env struct {
	t           *testing.T
	cfg         *Config
	topic       string
	probe       *probeServer
	client      *runtime.Client
	server      *runtime.Server
	serverTrans func(runtime.Transport) runtime.Transport
}

type envOptions struct {
	client      []runtime.ClientOption
	server      []runtime.ServerOption
	clientTrans func(runtime.Transport) runtime.Transport // wraps the client's transport
	serverTrans func(runtime.Transport) runtime.Transport // wraps the transport of each server
	noStart     bool
}

func newEnv(t *testing.T, cfg *Config, o envOptions) *env {
	t.Helper()
	e := &env{t: t, cfg: cfg, topic: uniqueTopic(t), probe: newProbeServer(), serverTrans: o.serverTrans}
	ct := newTransport(t, cfg)
	if o.clientTrans != nil {
		ct = o.clientTrans(ct)
	}
	copts := append([]runtime.ClientOption{runtime.WithCallOptions(runtime.WithTopic(e.topic))}, o.client...)
	client, err := runtime.NewClient(ct, copts...)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	t.Cleanup(func() { _ = client.Close() })
	e.client = client
	e.server = e.newServer(o.server...)
	if !o.noStart {
		e.start(e.server)
	}
	return e
}

// newServer returns a server of the probe on the env's topic, on a
// transport of its own.
func (e *env) newServer(opts ...runtime.ServerOption) *runtime.Server {
	e.t.Helper()
	st := newTransport(e.t, e.cfg)
	if e.serverTrans != nil {
		st = e.serverTrans(st)
	}
	opts = append([]runtime.ServerOption{runtime.WithServiceTopic(serviceName, e.topic)}, opts...)
	s := runtime.NewServer(st, opts...)
	if err := s.RegisterService(&probeDesc, e.probe); err != nil {
		e.t.Fatalf("RegisterService: %v", err)
	}
	return s
}

func (e *env) start(s *runtime.Server) {
	e.t.Helper()
	if err := s.Start(); err != nil {
		e.t.Fatalf("Start: %v", err)
	}
	e.t.Cleanup(s.Stop)
}

// ctx returns a context that ends with the test's patience.
func (e *env) ctx() context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), e.cfg.Patience)
	e.t.Cleanup(cancel)
	return ctx
}

func (e *env) echo(ctx context.Context, s string, b []byte, opts ...runtime.CallOption) (echoArgs, error) {
	var out echoArgs
	err := e.client.Invoke(ctx, method("Echo"), &echoArgs{S: s, B: b}, &out, opts...)
	return out, err
}

// awaitBlocked waits for a Block call to start on the server.
func (e *env) awaitBlocked() blocked {
	e.t.Helper()
	select {
	case b := <-e.probe.started:
		return b
	case <-time.After(e.cfg.Patience):
		e.t.Fatal("Block call never reached the server")
		return blocked{}
	}
}

// eventually waits until cond holds, failing the test after the patience.
func eventually(t *testing.T, cfg *Config, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(cfg.Patience)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		<-tick.C
	}
}

func wantCode(t *testing.T, err error, want runtime.Code) {
	t.Helper()
	if got := runtime.CodeOf(err); got != want {
		t.Fatalf("got %v (code %v), want code %v", err, got, want)
	}
}
