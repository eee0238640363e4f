package transporttest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mqrpc/mqrpc/runtime"
)

// RunFanout runs the fan-out call tests (runtime.Fanout) as subtests of t,
// in parallel with each other. The transports cfg.NewTransport returns
// must be runtime.FanoutTransports.
func RunFanout(t *testing.T, cfg Config) {
	cfg.defaults()
	tests := []suiteTest{
		{"EveryServerAnswers", testFanoutEveryServerAnswers},
		{"StoppedServerIsNotWaitedFor", testFanoutStoppedServer},
		{"HandlerErrorIsThatServersReply", testFanoutHandlerError},
		{"LateReplyIsDroppedAndCounted", testFanoutLateReply},
		{"ConcurrentCallsGetTheirOwnReplies", testFanoutConcurrent},
		{"BadOptionsAreRefusedBeforeSend", testFanoutBadOptions},
		{"NoLiveServerIsUnavailable", testFanoutNoServer},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, &cfg)
		})
	}
}

// fanService is the service the fan-out tests call: Who answers the name
// of the server and the tag it was given, or fails, or waits to be let go.
const fanService = "mqrpctest.Fan"

type whoArgs struct {
	_msgpack struct{} `msgpack:",as_array"`
	Tag      string
}

type whoResults struct {
	_msgpack struct{} `msgpack:",as_array"`
	R0       string
}

// fanServer is one server instance of fanService.
type fanServer struct {
	name string
	fail bool
	hold chan struct{} // when set, Who waits for it to close
	held chan struct{} // signalled when Who starts waiting
}

func (f *fanServer) who(ctx context.Context, tag string) (string, error) {
	if f.fail {
		return "", runtime.Errorf(runtime.FailedPrecondition, "%s refuses %s", f.name, tag)
	}
	if f.hold != nil {
		f.held <- struct{}{}
		select {
		case <-f.hold:
		case <-ctx.Done():
		}
	}
	return f.name + ":" + tag, nil
}

var fanDesc = runtime.ServiceDesc{
	ServiceName: fanService,
	Methods: []runtime.MethodDesc{{
		Name:    "Who",
		NewArgs: func() any { return new(whoArgs) },
		Call: func(ctx context.Context, impl any, args any) (any, error) {
			s, err := impl.(*fanServer).who(ctx, args.(*whoArgs).Tag)
			if err != nil {
				return nil, err
			}
			return &whoResults{R0: s}, nil
		},
	}},
}

// fanEnv is a client and servers of fanService on a topic of their own.
type fanEnv struct {
	t       *testing.T
	cfg     *Config
	topic   string
	client  *runtime.Client
	ct      runtime.Transport // of the client
	servers []*runtime.Server
	trans   []runtime.Transport // of each server
}

func newFanEnv(t *testing.T, cfg *Config, impls ...*fanServer) *fanEnv {
	t.Helper()
	e := &fanEnv{t: t, cfg: cfg, topic: uniqueTopic(t)}
	e.ct = newTransport(t, cfg)
	client, err := runtime.NewClient(e.ct, runtime.WithCallOptions(runtime.WithTopic(e.topic)))
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	t.Cleanup(func() { _ = client.Close() })
	e.client = client
	for i, impl := range impls {
		st := newTransport(t, cfg)
		s := runtime.NewServer(st, runtime.WithServiceTopic(fanService, e.topic), runtime.WithFanoutCalls(),
			runtime.WithInstanceID(fmt.Sprintf("%s-%d", e.topic, i)))
		if err := s.RegisterService(&fanDesc, impl); err != nil {
			t.Fatalf("RegisterService: %v", err)
		}
		if err := s.Start(); err != nil {
			t.Fatalf("Start: %v", err)
		}
		t.Cleanup(s.Stop)
		e.servers = append(e.servers, s)
		e.trans = append(e.trans, st)
	}
	e.awaitMembers(len(impls))
	e.awaitReady()
	return e
}

// members is how many servers the client's transport sees live.
func (e *fanEnv) members() int {
	ft := e.ct.(runtime.FanoutTransport)
	topic := runtime.FanoutTopicFor(e.topic)
	n, err := ft.Members(context.Background(), topic, runtime.GroupFor(topic))
	if err != nil {
		e.t.Logf("Members: %v", err)
		return -1
	}
	return n
}

func (e *fanEnv) awaitMembers(n int) {
	e.t.Helper()
	eventually(e.t, e.cfg, fmt.Sprintf("the broker sees %d servers", n), func() bool { return e.members() == n })
}

// awaitReady waits until every server answers a fan-out call: a server
// takes the calls sent after it has started to consume, which a broker
// may let it do a moment after it joined the group.
func (e *fanEnv) awaitReady() {
	e.t.Helper()
	var want []string
	for _, s := range e.servers {
		want = append(want, s.InstanceID())
	}
	slices.Sort(want)
	eventually(e.t, e.cfg, "every server answers fan-out calls", func() bool {
		rs, _ := e.who(context.Background(), "ready", runtime.WithTimeout(2*time.Second))
		return slices.Equal(instances(rs), want)
	})
}

func (e *fanEnv) who(ctx context.Context, tag string, opts ...runtime.CallOption) ([]runtime.Reply[string], error) {
	return runtime.Fanout(ctx, e.client, runtime.FullMethodName(fanService, "Who"), &whoArgs{Tag: tag},
		func(r *whoResults) string { return r.R0 }, opts...)
}

// instances returns the sorted instance ids of rs.
func instances(rs []runtime.Reply[string]) []string {
	var ids []string
	for _, r := range rs {
		ids = append(ids, r.Instance)
	}
	slices.Sort(ids)
	return ids
}

func (e *fanEnv) awaitNoPending() {
	e.t.Helper()
	if n := e.client.Stats().Pending; n != 0 {
		e.t.Fatalf("Stats().Pending = %d after the calls ended, want 0", n)
	}
}

func testFanoutEveryServerAnswers(t *testing.T, cfg *Config) {
	e := newFanEnv(t, cfg, &fanServer{name: "a"}, &fanServer{name: "b"}, &fanServer{name: "c"})
	rs, err := e.who(context.Background(), "x", runtime.WithTimeout(cfg.Patience))
	if err != nil {
		t.Fatalf("fan-out call: %v", err)
	}
	var want, values []string
	for _, s := range e.servers {
		want = append(want, s.InstanceID())
	}
	slices.Sort(want)
	if got := instances(rs); !slices.Equal(got, want) {
		t.Fatalf("replies came from %v, want one from each of %v", got, want)
	}
	for _, r := range rs {
		if r.Err != nil {
			t.Errorf("reply of %s: %v", r.Instance, r.Err)
		}
		values = append(values, r.Value)
	}
	slices.Sort(values)
	if want := []string{"a:x", "b:x", "c:x"}; !slices.Equal(values, want) {
		t.Errorf("values %v, want %v", values, want)
	}
	e.awaitNoPending()
}

func testFanoutStoppedServer(t *testing.T, cfg *Config) {
	e := newFanEnv(t, cfg, &fanServer{name: "a"}, &fanServer{name: "b"}, &fanServer{name: "c"})
	// The server and its connection go, as when its process is killed.
	e.servers[2].Stop()
	if err := e.trans[2].Close(); err != nil {
		t.Fatalf("close transport: %v", err)
	}
	e.awaitMembers(2)
	timeout := 20 * time.Second
	start := time.Now()
	rs, err := e.who(context.Background(), "x", runtime.WithTimeout(timeout))
	took := time.Since(start)
	if err != nil {
		t.Fatalf("fan-out call: %v", err)
	}
	if got, want := instances(rs), []string{e.servers[0].InstanceID(), e.servers[1].InstanceID()}; !slices.Equal(got, want) {
		t.Fatalf("replies came from %v, want %v", got, want)
	}
	if took > timeout/4 {
		t.Fatalf("the call took %v of its %v deadline: it should end when the live servers have answered", took, timeout)
	}
	e.awaitNoPending()
}

func testFanoutHandlerError(t *testing.T, cfg *Config) {
	e := newFanEnv(t, cfg, &fanServer{name: "a"}, &fanServer{name: "b", fail: true}, &fanServer{name: "c"})
	rs, err := e.who(context.Background(), "x", runtime.WithTimeout(cfg.Patience))
	if err != nil {
		t.Fatalf("fan-out call: %v", err)
	}
	if len(rs) != 3 {
		t.Fatalf("got %d replies, want 3: %+v", len(rs), rs)
	}
	for _, r := range rs {
		failing := r.Instance == e.servers[1].InstanceID()
		switch {
		case failing && runtime.CodeOf(r.Err) != runtime.FailedPrecondition:
			t.Errorf("reply of the failing server: %v, want FailedPrecondition", r.Err)
		case failing && !strings.Contains(r.Err.Error(), "b refuses x"):
			t.Errorf("reply of the failing server: %v, want its message", r.Err)
		case failing && r.Value != "":
			t.Errorf("failed reply carries value %q", r.Value)
		case !failing && (r.Err != nil || !strings.HasSuffix(r.Value, ":x")):
			t.Errorf("reply of %s: %q, %v, want a value and no error", r.Instance, r.Value, r.Err)
		}
	}
}

func testFanoutLateReply(t *testing.T, cfg *Config) {
	slow := &fanServer{name: "slow"}
	e := newFanEnv(t, cfg, &fanServer{name: "a"}, slow)
	slow.hold, slow.held = make(chan struct{}), make(chan struct{}, 1)
	dropped := e.client.Stats().DroppedReplies
	rs, err := e.who(context.Background(), "x", runtime.WithTimeout(cfg.Patience), runtime.WithExpect(1))
	if err != nil {
		t.Fatalf("fan-out call: %v", err)
	}
	if len(rs) != 1 || rs[0].Value != "a:x" {
		t.Fatalf("got %+v, want the one reply of a", rs)
	}
	e.awaitNoPending()
	select {
	case <-slow.held:
	case <-time.After(cfg.Patience):
		t.Fatal("the slow server never got the call")
	}
	close(slow.hold)
	eventually(t, cfg, "the late reply is counted as dropped", func() bool {
		return e.client.Stats().DroppedReplies > dropped
	})
}

func testFanoutConcurrent(t *testing.T, cfg *Config) {
	e := newFanEnv(t, cfg, &fanServer{name: "a"}, &fanServer{name: "b"}, &fanServer{name: "c"})
	const calls = 500
	var wg sync.WaitGroup
	errs := make(chan error, calls)
	for i := range calls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tag := fmt.Sprint(i)
			rs, err := e.who(context.Background(), tag, runtime.WithTimeout(cfg.Patience))
			if err != nil {
				errs <- fmt.Errorf("call %d: %w", i, err)
				return
			}
			var values []string
			for _, r := range rs {
				values = append(values, r.Value)
			}
			slices.Sort(values)
			if want := []string{"a:" + tag, "b:" + tag, "c:" + tag}; !slices.Equal(values, want) {
				errs <- fmt.Errorf("call %d got %v, want %v", i, values, want)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	e.awaitNoPending()
}

func testFanoutBadOptions(t *testing.T, cfg *Config) {
	e := newFanEnv(t, cfg, &fanServer{name: "a"})
	for _, opt := range []runtime.CallOption{runtime.WithExpect(0), runtime.WithExpect(-1), runtime.WithOrderKey("k")} {
		_, err := e.who(context.Background(), "x", opt)
		wantCode(t, err, runtime.InvalidArgument)
	}
	e.awaitNoPending()
}

func testFanoutNoServer(t *testing.T, cfg *Config) {
	e := newFanEnv(t, cfg)
	timeout := 20 * time.Second
	start := time.Now()
	_, err := e.who(context.Background(), "x", runtime.WithTimeout(timeout))
	wantCode(t, err, runtime.Unavailable)
	if took := time.Since(start); took > timeout/4 {
		t.Fatalf("the call took %v of its %v deadline; with no server live it should fail at once", took, timeout)
	}
	e.awaitNoPending()
}
