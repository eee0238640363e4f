package transporttest

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mqrpc/mqrpc/runtime"
)

// RunOrdered runs the ordered-call tests (runtime.WithOrderKey) as subtests
// of t, in parallel with each other. The transports cfg.NewTransport
// returns must be runtime.OrderedTransports.
func RunOrdered(t *testing.T, cfg Config) {
	cfg.defaults()
	tests := []struct {
		name string
		fn   func(*testing.T, *Config)
	}{
		{"OrderHoldsPerKey", testOrderHoldsPerKey},
		{"KeyedAndUnkeyedCallsMix", testKeyedAndUnkeyedMix},
		{"KeysRunInParallel", testKeysRunInParallel},
		{"UnkeyedCallsRunInParallel", testUnkeyedCallsRunInParallel},
		{"ExpiredWaitingCallDoesNotBlockKey", testExpiredWaitingCall},
		{"HandlerErrorKeepsOrder", testHandlerErrorKeepsOrder},
		{"BadOrderKeyIsRefusedBeforeSend", testBadOrderKey},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, &cfg)
		})
	}
}

// seqService is the service the ordered-call tests call: Step records, per
// order key, which calls ran and in what order, and can be told to hold a
// call or fail it.
const seqService = "mqrpctest.Seq"

type stepArgs struct {
	_msgpack struct{} `msgpack:",as_array"`
	Key      string   // the call's order key, "" for an unkeyed call
	Client   int
	Seq      int
	Act      string // "", "hold", "fail" or "barrier"
}

var seqDesc = runtime.ServiceDesc{
	ServiceName: seqService,
	Methods: []runtime.MethodDesc{{
		Name:    "Step",
		NewArgs: func() any { return new(stepArgs) },
		Call: func(ctx context.Context, impl any, args any) (any, error) {
			return nil, impl.(*SeqServer).step(ctx, args.(*stepArgs))
		},
	}},
}

// SeqServer checks the ordering of the calls it runs: per order key, one
// at a time, and per key and client, in strictly increasing sequence.
type SeqServer struct {
	mu         sync.Mutex
	last       map[string]int // key/client -> last sequence number run
	running    map[string]int // key -> calls running
	runs       map[string]int // key/client/seq -> times run
	violations []string
	holds      map[string]chan struct{} // key/client/seq -> closed to release
	started    chan string              // key/client/seq of held calls, as they start

	barrier  atomic.Int64
	barrierN int64
	barrierC chan struct{} // closed when barrierN barrier calls run at once
}

func newSeqServer() *SeqServer {
	return &SeqServer{
		last:     make(map[string]int),
		running:  make(map[string]int),
		runs:     make(map[string]int),
		holds:    make(map[string]chan struct{}),
		started:  make(chan string, 64),
		barrierC: make(chan struct{}),
	}
}

func stepID(key string, client, seq int) string { return fmt.Sprintf("%s/%d/%d", key, client, seq) }

func (s *SeqServer) step(ctx context.Context, in *stepArgs) error {
	id := stepID(in.Key, in.Client, in.Seq)
	stream := fmt.Sprintf("%s/%d", in.Key, in.Client)
	s.mu.Lock()
	s.runs[id]++
	if in.Key != "" {
		if s.running[in.Key] > 0 {
			s.violations = append(s.violations, fmt.Sprintf("call %s started while another call of key %q ran", id, in.Key))
		}
		s.running[in.Key]++
		if last, ok := s.last[stream]; ok && in.Seq <= last {
			s.violations = append(s.violations, fmt.Sprintf("call %s ran after call %d of the same key and client", id, last))
		}
		s.last[stream] = in.Seq
	}
	hold := s.holds[id]
	s.mu.Unlock()
	defer func() {
		if in.Key != "" {
			s.mu.Lock()
			s.running[in.Key]--
			s.mu.Unlock()
		}
	}()
	switch in.Act {
	case "hold":
		s.started <- id
		select {
		case <-hold:
		case <-ctx.Done():
			return ctx.Err()
		}
	case "fail":
		return runtime.Errorf(runtime.Aborted, "call %s fails as told", id)
	case "barrier":
		if s.barrier.Add(1) == s.barrierN {
			close(s.barrierC)
		}
		select {
		case <-s.barrierC:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// Check returns the ordering violations seen so far, and the calls among
// want (key/client/seq) that did not run exactly once.
func (s *SeqServer) Check(want []string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := append([]string(nil), s.violations...)
	for _, id := range want {
		if n := s.runs[id]; n != 1 {
			out = append(out, fmt.Sprintf("call %s ran %d times", id, n))
		}
	}
	return out
}

func (s *SeqServer) ran(id string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.runs[id]
}

// hold makes the call id wait, once started, until the returned function
// is called.
func (s *SeqServer) hold(id string) (release func()) {
	ch := make(chan struct{})
	s.mu.Lock()
	s.holds[id] = ch
	s.mu.Unlock()
	var once sync.Once
	return func() { once.Do(func() { close(ch) }) }
}

// storedKey is the context key under which a test asks storeNotifier to
// tell it that a request is stored.
type storedKey struct{}

// storeNotifier closes the channel on a Request's context once the
// transport has stored the request, so that a test can send the next call
// of a key knowing the order in which the broker stored them.
type storeNotifier struct{ runtime.OrderedTransport }

func (n storeNotifier) Request(ctx context.Context, m *runtime.Message) error {
	err := n.OrderedTransport.Request(ctx, m)
	if ch, ok := ctx.Value(storedKey{}).(chan struct{}); ok && err == nil {
		close(ch)
	}
	return err
}

// seqEnv is a service on a topic of its own with its clients.
type seqEnv struct {
	t       *testing.T
	cfg     *Config
	topic   string
	srv     *SeqServer
	clients []*runtime.Client
	sent    atomic.Int64 // requests handed to the client transports
}

func newSeqEnv(t *testing.T, cfg *Config, clients int, sopts ...runtime.ServerOption) *seqEnv {
	t.Helper()
	e := &seqEnv{t: t, cfg: cfg, topic: uniqueTopic(t), srv: newSeqServer()}
	for range clients {
		tr, ok := newTransport(t, cfg).(runtime.OrderedTransport)
		if !ok {
			t.Fatalf("transport does not carry ordered calls")
		}
		c, err := runtime.NewClient(countingTransport{storeNotifier{tr}, &e.sent}, runtime.WithCallOptions(runtime.WithTopic(e.topic)))
		if err != nil {
			t.Fatalf("NewClient: %v", err)
		}
		t.Cleanup(func() { _ = c.Close() })
		e.clients = append(e.clients, c)
	}
	sopts = append([]runtime.ServerOption{runtime.WithServiceTopic(seqService, e.topic), runtime.WithOrderedCalls()}, sopts...)
	s := runtime.NewServer(newTransport(t, cfg), sopts...)
	if err := s.RegisterService(&seqDesc, e.srv); err != nil {
		t.Fatalf("RegisterService: %v", err)
	}
	if err := s.Start(); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(s.Stop)
	return e
}

// countingTransport counts the requests handed to it.
type countingTransport struct {
	runtime.OrderedTransport
	n *atomic.Int64
}

func (c countingTransport) Request(ctx context.Context, m *runtime.Message) error {
	c.n.Add(1)
	return c.OrderedTransport.Request(ctx, m)
}

// call runs Step of client c with the given key (as order key too when
// non-empty) and returns its error.
func (e *seqEnv) call(ctx context.Context, c, seq int, key, act string, opts ...runtime.CallOption) error {
	if key != "" {
		opts = append(opts, runtime.WithOrderKey(key))
	}
	return e.clients[c].Invoke(ctx, runtime.FullMethodName(seqService, "Step"), &stepArgs{Key: key, Client: c, Seq: seq, Act: act}, nil, opts...)
}

// start starts the call in the background and returns once its request is
// stored; the returned channel gets the call's error.
func (e *seqEnv) start(ctx context.Context, c, seq int, key, act string, opts ...runtime.CallOption) <-chan error {
	e.t.Helper()
	stored := make(chan struct{})
	done := make(chan error, 1)
	go func() { done <- e.call(context.WithValue(ctx, storedKey{}, stored), c, seq, key, act, opts...) }()
	select {
	case <-stored:
		return done
	case err := <-done:
		e.t.Fatalf("call %s failed before its request was stored: %v", stepID(key, c, seq), err)
	case <-time.After(e.cfg.Patience):
		e.t.Fatalf("call %s not stored in time", stepID(key, c, seq))
	}
	return nil
}

func (e *seqEnv) ctx() context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), e.cfg.Patience)
	e.t.Cleanup(cancel)
	return ctx
}

func (e *seqEnv) awaitStarted(id string) {
	e.t.Helper()
	select {
	case got := <-e.srv.started:
		if got != id {
			e.t.Fatalf("held call %s started, want %s", got, id)
		}
	case <-time.After(e.cfg.Patience):
		e.t.Fatalf("held call %s never started", id)
	}
}

func (e *seqEnv) check(want []string) {
	e.t.Helper()
	if v := e.srv.Check(want); len(v) > 0 {
		e.t.Fatalf("%d problems, the first: %s", len(v), strings.Join(v[:min(len(v), 10)], "; "))
	}
}

// OrderedLoad is the size of the load in testOrderHoldsPerKey; transports
// whose tests run it against a real broker may set it.
type OrderedLoad struct{ Clients, Keys, Calls int }

// orderedLoad is used by testOrderHoldsPerKey.
var orderedLoad = OrderedLoad{Clients: 4, Keys: 20, Calls: 100}

// testOrderHoldsPerKey has several clients send many calls on each of many
// keys, each call sent as soon as the one before it of its key and client
// is stored, so that many calls of a key wait at once: each key's calls run
// one at a time, every client's in the order it sent them, each once.
func testOrderHoldsPerKey(t *testing.T, cfg *Config) {
	load := orderedLoad
	if cfg.OrderedLoad != (OrderedLoad{}) {
		load = cfg.OrderedLoad
	}
	runOrderedLoad(t, cfg, load, 0)
}

// testKeyedAndUnkeyedMix sends unkeyed calls to the service while keyed
// ones load it: all succeed, and the keyed ones keep their order.
func testKeyedAndUnkeyedMix(t *testing.T, cfg *Config) {
	runOrderedLoad(t, cfg, OrderedLoad{Clients: 2, Keys: 10, Calls: 30}, 600)
}

// runOrderedLoad sends load's keyed calls, each call of a key and client
// as soon as the one before it is stored, and unkeyed calls from as many
// goroutines as there are keys, at the same time; then checks the order
// and that each call ran once.
func runOrderedLoad(t *testing.T, cfg *Config, load OrderedLoad, unkeyed int) {
	e := newSeqEnv(t, cfg, load.Clients)
	ctx := e.ctx()
	var wg sync.WaitGroup
	errs := make(chan error, load.Clients*load.Keys*load.Calls+unkeyed)
	var next atomic.Int64
	for g := range load.Keys {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= unkeyed {
					return
				}
				if err := e.call(ctx, g%load.Clients, i, "", ""); err != nil {
					errs <- fmt.Errorf("unkeyed call %d: %w", i, err)
				}
			}
		}()
	}
	var want []string
	for c := range load.Clients {
		for k := range load.Keys {
			key := fmt.Sprintf("key-%d", k)
			for i := range load.Calls {
				want = append(want, stepID(key, c, i))
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				var calls []<-chan error
				for i := range load.Calls {
					stored := make(chan struct{})
					done := make(chan error, 1)
					go func() { done <- e.call(context.WithValue(ctx, storedKey{}, stored), c, i, key, "") }()
					select {
					case <-stored:
					case err := <-done:
						errs <- fmt.Errorf("call %s: %w", stepID(key, c, i), err)
						return
					}
					calls = append(calls, done)
				}
				for i, done := range calls {
					if err := <-done; err != nil {
						errs <- fmt.Errorf("call %s: %w", stepID(key, c, i), err)
					}
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	e.check(want)
	if unkeyed > 0 {
		var ran int
		for g := range load.Clients {
			for i := range unkeyed {
				ran += e.srv.ran(stepID("", g, i))
			}
		}
		if ran != unkeyed {
			t.Fatalf("%d unkeyed calls ran, want %d", ran, unkeyed)
		}
	}
}

// testKeysRunInParallel holds a call of key a: a later call of a waits for
// it, while a call of key b runs and returns.
func testKeysRunInParallel(t *testing.T, cfg *Config) {
	e := newSeqEnv(t, cfg, 1)
	ctx := e.ctx()
	release := e.srv.hold(stepID("a", 0, 1))
	defer release()
	a1 := e.start(ctx, 0, 1, "a", "hold")
	e.awaitStarted(stepID("a", 0, 1))
	a2 := e.start(ctx, 0, 2, "a", "")
	if err := e.call(ctx, 0, 1, "b", ""); err != nil {
		t.Fatalf("call of key b while key a is held: %v", err)
	}
	if n := e.srv.ran(stepID("a", 0, 2)); n != 0 {
		t.Fatalf("the second call of key a ran while the first was held")
	}
	release()
	for _, ch := range []<-chan error{a1, a2} {
		if err := <-ch; err != nil {
			t.Fatal(err)
		}
	}
	e.check([]string{stepID("a", 0, 1), stepID("a", 0, 2), stepID("b", 0, 1)})
}

// testUnkeyedCallsRunInParallel runs unkeyed calls that each wait until all
// of them run at once, while a keyed call is held: ordered calls take no
// concurrency from the others.
func testUnkeyedCallsRunInParallel(t *testing.T, cfg *Config) {
	e := newSeqEnv(t, cfg, 1)
	ctx := e.ctx()
	release := e.srv.hold(stepID("a", 0, 1))
	defer release()
	a1 := e.start(ctx, 0, 1, "a", "hold")
	e.awaitStarted(stepID("a", 0, 1))
	const n = 8
	e.srv.barrierN = n
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- e.call(ctx, 0, i, "", "barrier")
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("unkeyed call: %v", err)
		}
	}
	release()
	if err := <-a1; err != nil {
		t.Fatal(err)
	}
}

// testExpiredWaitingCall lets a call's deadline pass while it waits behind
// a held call of its key: the caller gets DeadlineExceeded, the call never
// runs, and the key's next call runs once the held one returns.
func testExpiredWaitingCall(t *testing.T, cfg *Config) {
	e := newSeqEnv(t, cfg, 1)
	ctx := e.ctx()
	release := e.srv.hold(stepID("a", 0, 1))
	defer release()
	a1 := e.start(ctx, 0, 1, "a", "hold")
	e.awaitStarted(stepID("a", 0, 1))
	a2 := e.start(ctx, 0, 2, "a", "", runtime.WithTimeout(300*time.Millisecond))
	if err := <-a2; runtime.CodeOf(err) != runtime.DeadlineExceeded {
		t.Fatalf("call whose deadline passed while it waited: got %v, want DeadlineExceeded", err)
	}
	release()
	if err := <-a1; err != nil {
		t.Fatal(err)
	}
	if err := e.call(ctx, 0, 3, "a", ""); err != nil {
		t.Fatalf("call after an expired one: %v", err)
	}
	if n := e.srv.ran(stepID("a", 0, 2)); n != 0 {
		t.Fatalf("expired call ran %d times", n)
	}
	e.check([]string{stepID("a", 0, 1), stepID("a", 0, 3)})
}

// testHandlerErrorKeepsOrder fails a held call of a key: the caller gets
// its error, and the call stored after it runs only after it returned.
func testHandlerErrorKeepsOrder(t *testing.T, cfg *Config) {
	e := newSeqEnv(t, cfg, 1)
	ctx := e.ctx()
	release := e.srv.hold(stepID("a", 0, 1))
	defer release()
	a1 := e.start(ctx, 0, 1, "a", "hold")
	e.awaitStarted(stepID("a", 0, 1))
	a2 := e.start(ctx, 0, 2, "a", "fail")
	a3 := e.start(ctx, 0, 3, "a", "")
	release()
	if err := <-a1; err != nil {
		t.Fatal(err)
	}
	if err := <-a2; runtime.CodeOf(err) != runtime.Aborted {
		t.Fatalf("failing call: got %v, want Aborted", err)
	}
	if err := <-a3; err != nil {
		t.Fatalf("call after a failed one: %v", err)
	}
	e.check([]string{stepID("a", 0, 1), stepID("a", 0, 2), stepID("a", 0, 3)})
}

// testBadOrderKey refuses keys the broker cannot carry, before sending.
func testBadOrderKey(t *testing.T, cfg *Config) {
	e := newSeqEnv(t, cfg, 1)
	ctx := e.ctx()
	for _, key := range []string{"a\x01b", "a\x02", "line\nbreak", strings.Repeat("k", runtime.MaxOrderKeyLen+1), "\xff\xfe"} {
		err := e.call(ctx, 0, 1, key, "")
		if runtime.CodeOf(err) != runtime.InvalidArgument {
			t.Errorf("key %q: got %v, want InvalidArgument", key, err)
		}
	}
	if n := e.sent.Load(); n != 0 {
		t.Fatalf("%d requests with bad keys were handed to the transport", n)
	}
	if err := e.call(ctx, 0, 1, strings.Repeat("k", runtime.MaxOrderKeyLen), ""); err != nil {
		t.Fatalf("key of the longest allowed length: %v", err)
	}
}
