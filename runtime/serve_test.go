package runtime

import (
	"bytes"
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mqrpc/mqrpc/codec"
)

// fakeTransport records what a Server does with it: the handler of each
// subscribed topic and every reply sent. It starts no goroutines; tests
// deliver requests by calling the handler themselves.
type fakeTransport struct {
	mu       sync.Mutex
	handlers map[string]MessageHandler // by topic
	replies  []sentReply
}

type sentReply struct {
	request, reply *Message
}

func newFakeTransport() *fakeTransport {
	return &fakeTransport{handlers: make(map[string]MessageHandler)}
}

func (*fakeTransport) ListenReplies(func(*Message)) error      { return nil }
func (*fakeTransport) Request(context.Context, *Message) error { return nil }
func (*fakeTransport) Send(context.Context, *Message) error    { return nil }
func (*fakeTransport) Close() error                            { return nil }

func (f *fakeTransport) Subscribe(topic, _ string, h MessageHandler) (Subscription, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.handlers[topic] = h
	return fakeSubscription{}, nil
}

func (f *fakeTransport) Reply(_ context.Context, request, reply *Message) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.replies = append(f.replies, sentReply{request, reply})
	return nil
}

func (f *fakeTransport) handler(topic string) MessageHandler {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.handlers[topic]
}

func (f *fakeTransport) sent() []sentReply {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]sentReply(nil), f.replies...)
}

type fakeSubscription struct{}

func (fakeSubscription) Stop() error { return nil }

// The service the server tests register, with a descriptor written the way
// mqrpcgen writes one.
const calcService = "fuzz.Calc"

var calcTopic = TopicFor(calcService)

type calc interface {
	Add(ctx context.Context, a, b int) (int, error)
	Echo(ctx context.Context, in echoValue) (echoValue, error)
	Fail(ctx context.Context, plain bool) error
	Panic(ctx context.Context) error
	Notify(ctx context.Context, s string) error
}

type calcAddArgs struct {
	_msgpack struct{} `msgpack:",as_array"`
	A        int
	B        int
}

type calcAddResults struct {
	_msgpack struct{} `msgpack:",as_array"`
	R0       int
}

// echoValue gives the decoder more to chew on than two ints.
type echoValue struct {
	S    string
	B    []byte
	M    map[string][]int
	T    time.Time
	P    *echoValue
	F    float64
	List []string
}

type calcEchoArgs struct {
	_msgpack struct{} `msgpack:",as_array"`
	In       echoValue
}

type calcEchoResults struct {
	_msgpack struct{} `msgpack:",as_array"`
	R0       echoValue
}

type calcFailArgs struct {
	_msgpack struct{} `msgpack:",as_array"`
	Plain    bool
}

type calcNoArgs struct {
	_msgpack struct{} `msgpack:",as_array"`
}

type calcNotifyArgs struct {
	_msgpack struct{} `msgpack:",as_array"`
	S        string
}

var calcDesc = ServiceDesc{
	ServiceName: calcService,
	HandlerType: (*calc)(nil),
	Methods: []MethodDesc{
		{
			Name:    "Add",
			NewArgs: func() any { return new(calcAddArgs) },
			Call: func(ctx context.Context, impl any, args any) (any, error) {
				in := args.(*calcAddArgs)
				r0, err := impl.(calc).Add(ctx, in.A, in.B)
				if err != nil {
					return nil, err
				}
				return &calcAddResults{R0: r0}, nil
			},
		},
		{
			Name:    "Echo",
			NewArgs: func() any { return new(calcEchoArgs) },
			Call: func(ctx context.Context, impl any, args any) (any, error) {
				r0, err := impl.(calc).Echo(ctx, args.(*calcEchoArgs).In)
				if err != nil {
					return nil, err
				}
				return &calcEchoResults{R0: r0}, nil
			},
		},
		{
			Name:    "Fail",
			NewArgs: func() any { return new(calcFailArgs) },
			Call: func(ctx context.Context, impl any, args any) (any, error) {
				return nil, impl.(calc).Fail(ctx, args.(*calcFailArgs).Plain)
			},
		},
		{
			Name:    "Panic",
			NewArgs: func() any { return new(calcNoArgs) },
			Call: func(ctx context.Context, impl any, _ any) (any, error) {
				return nil, impl.(calc).Panic(ctx)
			},
		},
		{
			Name:    "Notify",
			OneWay:  true,
			NewArgs: func() any { return new(calcNotifyArgs) },
			Call: func(ctx context.Context, impl any, args any) (any, error) {
				return nil, impl.(calc).Notify(ctx, args.(*calcNotifyArgs).S)
			},
		},
	},
}

// calcServer counts its calls and remembers the last handler context.
type calcServer struct {
	calls    atomic.Int64
	notified atomic.Int64
	lastCtx  atomic.Pointer[context.Context]
}

func (c *calcServer) seen(ctx context.Context) {
	c.calls.Add(1)
	c.lastCtx.Store(&ctx)
}

func (c *calcServer) Add(ctx context.Context, a, b int) (int, error) {
	c.seen(ctx)
	return a + b, nil
}

func (c *calcServer) Echo(ctx context.Context, in echoValue) (echoValue, error) {
	c.seen(ctx)
	return in, nil
}

func (c *calcServer) Fail(ctx context.Context, plain bool) error {
	c.seen(ctx)
	if plain {
		return errors.New("plain failure")
	}
	return NewError(NotFound, "no such thing")
}

func (c *calcServer) Panic(ctx context.Context) error {
	c.seen(ctx)
	panic("handler panic for a test")
}

func (c *calcServer) Notify(ctx context.Context, _ string) error {
	c.seen(ctx)
	c.notified.Add(1)
	return nil
}

// newCalcServer starts a server for calcDesc on a fake transport.
func newCalcServer(tb testing.TB, opts ...ServerOption) (*Server, *fakeTransport, *calcServer) {
	tb.Helper()
	ft := newFakeTransport()
	impl := &calcServer{}
	s := NewServer(ft, opts...)
	if err := s.RegisterService(&calcDesc, impl); err != nil {
		tb.Fatal(err)
	}
	if err := s.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(s.Stop)
	if ft.handler(calcTopic) == nil {
		tb.Fatalf("server did not subscribe to %s", calcTopic)
	}
	return s, ft, impl
}

func mustMarshal(tb testing.TB, v any) []byte {
	tb.Helper()
	b, err := codec.Msgpack.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// calcRequest builds a valid request for method of calcService, as a Client
// would, with a deadline a minute away.
func calcRequest(tb testing.TB, method, id string, args any) *Message {
	tb.Helper()
	return &Message{
		Topic: calcTopic,
		Tag:   method,
		Key:   id,
		Properties: map[string]string{
			PropCorrelationID: id,
			PropMethod:        FullMethodName(calcService, method),
			PropCodec:         codec.Msgpack.Name(),
			PropVersion:       ProtocolVersion,
			PropDeadline:      strconv.FormatInt(time.Now().Add(time.Minute).UnixMilli(), 10),
		},
		Body: mustMarshal(tb, args),
	}
}

// statusOf returns the code of a reply; a reply without a status is OK.
func statusOf(tb testing.TB, reply *Message) Code {
	tb.Helper()
	s, ok := reply.Properties[PropStatus]
	if !ok {
		return OK
	}
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		tb.Fatalf("reply has malformed %s %q", PropStatus, s)
	}
	return Code(n)
}

func deliver(tb testing.TB, ft *fakeTransport, msg *Message) {
	tb.Helper()
	if err := ft.handler(calcTopic)(context.Background(), msg); err != nil {
		tb.Fatalf("handler returned %v; the server must reply, not ask for redelivery", err)
	}
}

func TestServeRequest(t *testing.T) {
	withProps := func(m *Message, kv ...string) *Message {
		for i := 0; i < len(kv); i += 2 {
			m.Properties[kv[i]] = kv[i+1]
		}
		return m
	}
	without := func(m *Message, keys ...string) *Message {
		for _, k := range keys {
			delete(m.Properties, k)
		}
		return m
	}
	tests := []struct {
		name      string
		msg       func(t *testing.T) *Message
		wantCode  Code
		wantCalls int64
		check     func(t *testing.T, reply *Message)
	}{
		{
			name:      "valid call is answered with its results",
			msg:       func(t *testing.T) *Message { return calcRequest(t, "Add", "id-1", calcAddArgs{A: 2, B: 3}) },
			wantCode:  OK,
			wantCalls: 1,
			check: func(t *testing.T, reply *Message) {
				var out calcAddResults
				if err := codec.Msgpack.Unmarshal(reply.Body, &out); err != nil || out.R0 != 5 {
					t.Errorf("results = %+v, %v; want 5", out, err)
				}
				if got := reply.Properties[PropCodec]; got != "msgpack" {
					t.Errorf("reply codec = %q, want msgpack", got)
				}
			},
		},
		{
			name: "unknown method is Unimplemented",
			msg: func(t *testing.T) *Message {
				return withProps(calcRequest(t, "Add", "id-2", calcAddArgs{}), PropMethod, "/fuzz.Calc/Sub")
			},
			wantCode: Unimplemented,
		},
		{
			name: "unknown service is Unimplemented",
			msg: func(t *testing.T) *Message {
				return withProps(calcRequest(t, "Add", "id-3", calcAddArgs{}), PropMethod, "/other.Svc/Add")
			},
			wantCode: Unimplemented,
		},
		{
			name: "unknown codec is InvalidArgument",
			msg: func(t *testing.T) *Message {
				return withProps(calcRequest(t, "Add", "id-4", calcAddArgs{}), PropCodec, "cbor")
			},
			wantCode: InvalidArgument,
		},
		{
			name: "unsupported protocol version is InvalidArgument",
			msg: func(t *testing.T) *Message {
				return withProps(calcRequest(t, "Add", "id-5", calcAddArgs{}), PropVersion, "2")
			},
			wantCode: InvalidArgument,
		},
		{
			name: "malformed deadline is InvalidArgument",
			msg: func(t *testing.T) *Message {
				return withProps(calcRequest(t, "Add", "id-6", calcAddArgs{}), PropDeadline, "soon")
			},
			wantCode: InvalidArgument,
		},
		{
			name: "undecodable body is InvalidArgument",
			msg: func(t *testing.T) *Message {
				m := calcRequest(t, "Add", "id-7", calcAddArgs{})
				m.Body = []byte{0x92, 0xa1, 'x'}
				return m
			},
			wantCode: InvalidArgument,
		},
		{
			// msgpack v5.4.1 would allocate 2^32-1 ints up front and the
			// process would die of it (vmihailenco/msgpack#401).
			name: "body declaring billions of elements is InvalidArgument",
			msg: func(t *testing.T) *Message {
				m := calcRequest(t, "Echo", "id-huge", calcEchoArgs{})
				m.Body = []byte{0x91, 0x81, 0xa1, 'M', 0x81, 0xa1, 'k', 0xdd, 0xff, 0xff, 0xff, 0xff}
				return m
			},
			wantCode: InvalidArgument,
		},
		{
			name: "trailing bytes in the body are InvalidArgument",
			msg: func(t *testing.T) *Message {
				m := calcRequest(t, "Add", "id-8", calcAddArgs{A: 1, B: 2})
				m.Body = append(m.Body, 0x00)
				return m
			},
			wantCode: InvalidArgument,
		},
		{
			name:      "plain handler error is Unknown with its text",
			msg:       func(t *testing.T) *Message { return calcRequest(t, "Fail", "id-9", calcFailArgs{Plain: true}) },
			wantCode:  Unknown,
			wantCalls: 1,
			check: func(t *testing.T, reply *Message) {
				if got := reply.Properties[PropMessage]; got != "plain failure" {
					t.Errorf("message = %q, want the handler's error text", got)
				}
			},
		},
		{
			name:      "handler *Error keeps its code",
			msg:       func(t *testing.T) *Message { return calcRequest(t, "Fail", "id-10", calcFailArgs{}) },
			wantCode:  NotFound,
			wantCalls: 1,
		},
		{
			name:      "handler panic is Internal",
			msg:       func(t *testing.T) *Message { return calcRequest(t, "Panic", "id-11", calcNoArgs{}) },
			wantCode:  Internal,
			wantCalls: 1,
		},
		{
			name: "request without mqrpc-method is routed by topic and tag",
			msg: func(t *testing.T) *Message {
				return without(calcRequest(t, "Add", "id-12", calcAddArgs{A: 40, B: 2}), PropMethod)
			},
			wantCode:  OK,
			wantCalls: 1,
			check: func(t *testing.T, reply *Message) {
				var out calcAddResults
				if err := codec.Msgpack.Unmarshal(reply.Body, &out); err != nil || out.R0 != 42 {
					t.Errorf("results = %+v, %v; want 42", out, err)
				}
			},
		},
		{
			name: "request with only topic, tag, key and body (plain RocketMQ) is served",
			msg: func(t *testing.T) *Message {
				m := calcRequest(t, "Add", "id-13", calcAddArgs{A: 1, B: 1})
				m.Properties = map[string]string{PropCorrelationID: "id-13"}
				return m
			},
			wantCode:  OK,
			wantCalls: 1,
		},
		{
			name: "unknown tag without mqrpc-method is Unimplemented",
			msg: func(t *testing.T) *Message {
				m := without(calcRequest(t, "Add", "id-14", calcAddArgs{}), PropMethod)
				m.Tag = "Sub"
				return m
			},
			wantCode: Unimplemented,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, ft, impl := newCalcServer(t)
			msg := tt.msg(t)
			deliver(t, ft, msg)
			sent := ft.sent()
			if len(sent) != 1 {
				t.Fatalf("server sent %d replies, want 1", len(sent))
			}
			reply := sent[0].reply
			if got := statusOf(t, reply); got != tt.wantCode {
				t.Errorf("status = %v (%q), want %v", got, reply.Properties[PropMessage], tt.wantCode)
			}
			if got, want := reply.Properties[PropCorrelationID], msg.Properties[PropCorrelationID]; got != want {
				t.Errorf("reply %s = %q, want the request's %q", PropCorrelationID, got, want)
			}
			if sent[0].request != msg {
				t.Errorf("Reply was given a different request message than the one delivered")
			}
			if got := impl.calls.Load(); got != tt.wantCalls {
				t.Errorf("handler ran %d times, want %d", got, tt.wantCalls)
			}
			if tt.check != nil {
				tt.check(t, reply)
			}
		})
	}
}

func TestServeExpiredRequestIsNotRunNorAnswered(t *testing.T) {
	for _, deadline := range []time.Time{time.Now().Add(-time.Millisecond), time.Unix(0, 0), time.UnixMilli(-1)} {
		s, ft, impl := newCalcServer(t)
		msg := calcRequest(t, "Add", "expired", calcAddArgs{})
		msg.Properties[PropDeadline] = strconv.FormatInt(deadline.UnixMilli(), 10)
		deliver(t, ft, msg)
		if n := len(ft.sent()); n != 0 {
			t.Errorf("deadline %v: server sent %d replies to an expired request", deadline, n)
		}
		if n := impl.calls.Load(); n != 0 {
			t.Errorf("deadline %v: handler ran %d times", deadline, n)
		}
		if n := s.Stats().Expired; n != 1 {
			t.Errorf("deadline %v: Stats().Expired = %d, want 1", deadline, n)
		}
	}
}

func TestServeDuplicateCallRunsOnce(t *testing.T) {
	s, ft, impl := newCalcServer(t)
	msg := calcRequest(t, "Add", "dup-1", calcAddArgs{A: 1, B: 2})
	deliver(t, ft, msg)
	deliver(t, ft, msg)
	if n := impl.calls.Load(); n != 1 {
		t.Errorf("handler ran %d times, want 1", n)
	}
	if n := s.Stats().Duplicates; n != 1 {
		t.Errorf("Stats().Duplicates = %d, want 1", n)
	}
	if n := len(ft.sent()); n != 1 {
		t.Errorf("server sent %d replies, want 1", n)
	}
	// Another call id is not a duplicate.
	deliver(t, ft, calcRequest(t, "Add", "dup-2", calcAddArgs{}))
	if n := impl.calls.Load(); n != 2 {
		t.Errorf("handler ran %d times after a second call id, want 2", n)
	}
}

func TestServeCallIDFallsBackToKey(t *testing.T) {
	s, ft, impl := newCalcServer(t)
	msg := calcRequest(t, "Add", "key-1", calcAddArgs{})
	delete(msg.Properties, PropCorrelationID)
	deliver(t, ft, msg)
	deliver(t, ft, msg)
	if n := impl.calls.Load(); n != 1 || s.Stats().Duplicates != 1 {
		t.Errorf("handler ran %d times, %d duplicates; want dedup by message key", n, s.Stats().Duplicates)
	}
}

func TestServeHandlerContext(t *testing.T) {
	_, ft, impl := newCalcServer(t)
	msg := calcRequest(t, "Add", "ctx-1", calcAddArgs{})
	deadline := time.Now().Add(time.Hour).Truncate(time.Millisecond)
	msg.Properties[PropDeadline] = strconv.FormatInt(deadline.UnixMilli(), 10)
	msg.Properties[MetadataPrefix+"tenant"] = "acme"
	deliver(t, ft, msg)
	ctx := *impl.lastCtx.Load()
	if got, ok := ctx.Deadline(); !ok || !got.Equal(deadline) {
		t.Errorf("handler deadline = %v, %v; want %v", got, ok, deadline)
	}
	if got := IncomingMetadata(ctx).Get("tenant"); got != "acme" {
		t.Errorf("incoming metadata tenant = %q, want acme", got)
	}
}

func TestServeOneWayIsNotAnswered(t *testing.T) {
	_, ft, impl := newCalcServer(t)
	deliver(t, ft, calcRequest(t, "Notify", "ow-1", calcNotifyArgs{S: "hi"}))
	if n := impl.calls.Load(); n != 1 {
		t.Errorf("handler ran %d times, want 1", n)
	}
	if n := len(ft.sent()); n != 0 {
		t.Errorf("server sent %d replies to a one-way call", n)
	}
}

func TestServeAfterStopAsksForRedelivery(t *testing.T) {
	s, ft, impl := newCalcServer(t)
	h := ft.handler(calcTopic)
	s.Stop()
	if err := h(context.Background(), calcRequest(t, "Add", "late", calcAddArgs{})); err == nil {
		t.Error("handler accepted a request after Stop; want an error so the queue redelivers it")
	}
	if n := impl.calls.Load(); n != 0 {
		t.Errorf("handler ran %d times after Stop", n)
	}
}

// Fuzz properties are present only when their bit is set in present, so
// that the fuzzer explores absent and empty values alike.
const (
	hasMethod = 1 << iota
	hasCodec
	hasVersion
	hasDeadline
	hasCorrelation
	hasMetadata
)

// FuzzServeRequest feeds arbitrary requests to a server. A deadline that
// starts with '+' is relative, in milliseconds from now, so that seeds stay
// valid over time.
func FuzzServeRequest(f *testing.F) {
	all := hasMethod | hasCodec | hasVersion | hasDeadline | hasCorrelation | hasMetadata
	add := mustMarshal(f, calcAddArgs{A: 2, B: 3})
	echo := mustMarshal(f, calcEchoArgs{In: echoValue{
		S: "s", B: []byte{1}, M: map[string][]int{"k": {1}}, T: time.Unix(1, 2), P: &echoValue{F: 1.5}, List: []string{"a"},
	}})
	type seed struct {
		body                                        []byte
		tag, method, codec, version, deadline, corr string
		key, mdKey, mdVal                           string
		present                                     uint8
	}
	seeds := []seed{
		{add, "Add", "/fuzz.Calc/Add", "msgpack", "1", "+60000", "c1", "c1", "tenant", "acme", uint8(all)},
		{echo, "Echo", "/fuzz.Calc/Echo", "msgpack", "1", "+60000", "c2", "c2", "Trace", "x", uint8(all)},
		{mustMarshal(f, calcFailArgs{Plain: true}), "Fail", "/fuzz.Calc/Fail", "msgpack", "1", "+60000", "c3", "", "", "", uint8(all)},
		{mustMarshal(f, calcNoArgs{}), "Panic", "/fuzz.Calc/Panic", "msgpack", "1", "+60000", "c4", "", "", "", uint8(all)},
		{mustMarshal(f, calcNotifyArgs{S: "n"}), "Notify", "/fuzz.Calc/Notify", "msgpack", "1", "+60000", "c5", "", "", "", uint8(all)},
		{add, "Add", "", "", "", "", "c6", "c6", "", "", hasCorrelation},
		{add, "Add", "", "", "", "", "", "k7", "", "", 0},
		{add, "Sub", "/fuzz.Calc/Sub", "msgpack", "1", "+60000", "c8", "", "", "", uint8(all)},
		{add, "Add", "/fuzz.Calc/Add", "json", "1", "+60000", "c9", "", "", "", uint8(all)},
		{add, "Add", "/fuzz.Calc/Add", "msgpack", "2", "+60000", "c10", "", "", "", uint8(all)},
		{add, "Add", "/fuzz.Calc/Add", "msgpack", "1", "tomorrow", "c11", "", "", "", uint8(all)},
		{add, "Add", "/fuzz.Calc/Add", "msgpack", "1", "-1", "c12", "", "", "", uint8(all)},
		{add, "Add", "/fuzz.Calc/Add", "msgpack", "1", "9223372036854775807", "c13", "", "", "", uint8(all)},
		{add, "Add", "/fuzz.Calc/Add", "msgpack", "1", "+-5", "c14", "", "", "", uint8(all)},
		{nil, "Add", "/fuzz.Calc/Add", "msgpack", "1", "+60000", "c15", "", "", "", uint8(all)},
		{[]byte{0x92, 0xc1}, "Add", "/fuzz.Calc/Add", "msgpack", "1", "+60000", "c16", "", "", "", uint8(all)},
		{[]byte{0x91, 0x81, 0xa1, 'M', 0x81, 0xa1, 'k', 0xdd, 0xff, 0xff, 0xff, 0xff}, "Echo", "/fuzz.Calc/Echo", "msgpack", "1", "+60000", "c22", "", "", "", uint8(all)},
		{[]byte{0xdd, 0xff, 0xff, 0xff, 0xff}, "Echo", "/fuzz.Calc/Echo", "msgpack", "1", "+60000", "c17", "", "", "", uint8(all)},
		{append(add, 0), "Add", "/fuzz.Calc/Add", "msgpack", "1", "+60000", "c18", "", "", "", uint8(all)},
		{add, "Add", "fuzz.Calc/Add", "msgpack", "1", "+60000", "", "", "", "", uint8(all)},
		{add, "Add", "//", "msgpack", "1", "+60000", "c20", "", "", "", uint8(all)},
		{add, "Add", "/fuzz.Calc/Add", "", "", "+60000", "", "", "", "", uint8(all &^ hasCorrelation)},
	}
	// Bodies a strict, bounded decoder refuses (decodelimits_test.go has
	// the full-size ones and FuzzServeNested their generator).
	for i, body := range [][]byte{
		mustMarshal(f, []any{uint64(1) << 63, 1}), // does not fit an int
		mustMarshal(f, []any{1}),                  // one argument short
		mustMarshal(f, []any{}),
		mustMarshal(f, nil),
		mustMarshal(f, map[string]int{"A": 1, "B": 2}),
		mustMarshal(f, []any{1.5, 2}),
	} {
		seeds = append(seeds, seed{body, "Add", "/fuzz.Calc/Add", "msgpack", "1", "+60000", "strict-" + strconv.Itoa(i), "", "", "", uint8(all)})
	}
	seeds = append(seeds,
		seed{append([]byte{0x91}, nestedEcho(codec.DefaultMaxDepth)...), "Echo", "/fuzz.Calc/Echo", "msgpack", "1", "+60000", "deep", "", "", "", uint8(all)},
		seed{append(append([]byte{0x91, 0x81, 0xa3, 'z', 'z', 'z'}, bytes.Repeat([]byte{0x91}, codec.DefaultMaxDepth)...), 0xc0), "Echo", "/fuzz.Calc/Echo", "msgpack", "1", "+60000", "skip", "", "", "", uint8(all)},
		seed{append([]byte{0x91, 0x81, 0xa4, 'L', 'i', 's', 't', 0xdc, 0xff, 0xff}, bytes.Repeat([]byte{0xa0}, 0xffff)...), "Echo", "/fuzz.Calc/Echo", "msgpack", "1", "+60000", "strs", "", "", "", uint8(all)},
	)
	for _, s := range seeds {
		f.Add(s.body, s.tag, s.method, s.codec, s.version, s.deadline, s.corr, s.key, s.mdKey, s.mdVal, s.present)
	}
	f.Fuzz(func(t *testing.T, body []byte, tag, method, codecName, version, deadline, corr, key, mdKey, mdVal string, present uint8) {
		s, ft, impl := newCalcServer(t)
		props := make(map[string]string)
		set := func(bit uint8, k, v string) {
			if present&bit != 0 {
				props[k] = v
			}
		}
		if rel, ok := strings.CutPrefix(deadline, "+"); ok {
			if ms, err := strconv.ParseInt(rel, 10, 32); err == nil {
				deadline = strconv.FormatInt(time.Now().UnixMilli()+ms, 10)
			}
		}
		set(hasMethod, PropMethod, method)
		set(hasCodec, PropCodec, codecName)
		set(hasVersion, PropVersion, version)
		set(hasDeadline, PropDeadline, deadline)
		set(hasCorrelation, PropCorrelationID, corr)
		set(hasMetadata, MetadataPrefix+mdKey, mdVal)
		msg := &Message{Topic: calcTopic, Tag: tag, Key: key, Properties: props, Body: body}

		if err := ft.handler(calcTopic)(context.Background(), msg); err != nil {
			t.Fatalf("handler returned %v; the server must reply, not ask for redelivery", err)
		}

		sent := ft.sent()
		if len(sent) > 1 {
			t.Fatalf("server sent %d replies to one request", len(sent))
		}
		if len(sent) == 0 {
			// Only an expired request or a one-way call goes unanswered.
			if s.Stats().Expired != 1 && impl.notified.Load() != 1 {
				t.Fatalf("no reply, yet the request neither expired nor was one-way (props %q)", props)
			}
			return
		}
		reply := sent[0].reply
		st, ok := reply.Properties[PropStatus]
		if ok {
			n, err := strconv.ParseUint(st, 10, 32)
			if err != nil {
				t.Fatalf("reply has malformed %s %q", PropStatus, st)
			}
			if Code(n) > Unauthenticated {
				t.Fatalf("reply status %d is not a valid code", n)
			}
		}
		wantID := props[PropCorrelationID]
		if wantID == "" {
			wantID = key // a request without a correlation id is known by its key
		}
		if got := reply.Properties[PropCorrelationID]; got != wantID {
			t.Fatalf("reply %s = %q, want %q", PropCorrelationID, got, wantID)
		}
		if s.Stats().Expired != 0 {
			t.Fatalf("server answered a request it counted as expired")
		}
		if !ok || st == "0" {
			if name := reply.Properties[PropCodec]; name != "msgpack" {
				t.Fatalf("OK reply has codec %q, want msgpack", name)
			}
			if impl.calls.Load() != 1 {
				t.Fatalf("OK reply but the handler ran %d times", impl.calls.Load())
			}
		}
	})
}
