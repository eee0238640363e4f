package interop_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mqrpc/mqrpc/examples/calculator/calculator"
	"github.com/mqrpc/mqrpc/runtime"
	"github.com/mqrpc/mqrpc/runtime/memtransport"
)

// vector is one golden message of testdata/wire (see its README.md).
type vector struct {
	Name        string            `json:"name"`
	Description string            `json:"description"`
	Kind        string            `json:"kind"`
	Method      string            `json:"method"`
	Topic       string            `json:"topic"`
	Tag         string            `json:"tag"`
	Keys        string            `json:"keys"`
	Properties  map[string]string `json:"properties"`
	BodyHex     string            `json:"body_hex"`
	Args        json.RawMessage   `json:"args"`
	Results     json.RawMessage   `json:"results"`
	Status      *struct {
		Code       string `json:"code"`
		Name       string `json:"name"`
		Message    string `json:"message"`
		DetailsHex string `json:"details_hex"`
	} `json:"status"`
}

func loadVector(t testing.TB, name string) vector {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(wireDir, name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var v vector
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(&v); err != nil {
		t.Fatalf("%s.json: %v", name, err)
	}
	if v.Name != name {
		t.Fatalf("%s.json is named %q", name, v.Name)
	}
	return v
}

// wireMessage is a RocketMQ message as stored in the broker.
type wireMessage struct {
	Topic, Tag, Keys string
	Properties       map[string]string
	Body             []byte
}

// Properties that the RocketMQ transport, not the runtime, puts on a
// message (docs/PROTOCOL.md, "RocketMQ mapping").
var transportProps = []string{"REPLY_TO_CLIENT", "TTL", "MSG_TYPE", "mqrpc-empty-body"}

// matchOptions says what a comparison covers.
type matchOptions struct {
	// runtimeOnly compares a runtime.Message, before the transport: the
	// vector's transport properties, reply topic and tag and the
	// empty-body rule are left out.
	runtimeOnly bool
	// anyTopic accepts any topic (live tests use unique topics).
	anyTopic bool
}

// matchVector fails t unless m is the message v describes. Placeholders
// bind to the values they meet; bound returns them.
func matchVector(t testing.TB, v vector, m wireMessage, o matchOptions) (bound map[string]string) {
	t.Helper()
	bound = map[string]string{}
	check := func(what, want, got string) {
		t.Helper()
		if name, ok := placeholder(want); ok {
			if got == "" {
				t.Errorf("%s: %s is empty, want a value for ${%s}", v.Name, what, name)
				return
			}
			if prev, ok := bound[name]; ok && prev != got {
				t.Errorf("%s: %s is %q, but ${%s} is %q elsewhere in the message", v.Name, what, got, name, prev)
			}
			bound[name] = got
			return
		}
		if want != got {
			t.Errorf("%s: %s is %q, want %q", v.Name, what, got, want)
		}
	}
	reply := v.Kind == "reply"
	if !o.anyTopic && !(o.runtimeOnly && reply) {
		check("topic", v.Topic, m.Topic)
	}
	if !(o.runtimeOnly && reply) {
		check("tag", v.Tag, m.Tag)
	}
	check("keys", v.Keys, m.Keys)
	want := maps.Clone(v.Properties)
	wantBody, err := hex.DecodeString(v.BodyHex)
	if err != nil {
		t.Fatalf("%s: body_hex: %v", v.Name, err)
	}
	if o.runtimeOnly {
		if want["mqrpc-empty-body"] != "" {
			wantBody = nil
		}
		for _, p := range transportProps {
			delete(want, p)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(want)) {
		got, ok := m.Properties[k]
		if !ok {
			t.Errorf("%s: property %s is missing (have %v)", v.Name, k, m.Properties)
			continue
		}
		check("property "+k, want[k], got)
	}
	for k := range m.Properties {
		if _, ok := want[k]; !ok && strings.HasPrefix(k, "mqrpc-") {
			t.Errorf("%s: unexpected property %s=%q", v.Name, k, m.Properties[k])
		}
	}
	if !bytes.Equal(m.Body, wantBody) {
		t.Errorf("%s: body is %x, want %x", v.Name, m.Body, wantBody)
	}
	return bound
}

func placeholder(s string) (string, bool) {
	if strings.HasPrefix(s, "${") && strings.HasSuffix(s, "}") {
		return s[2 : len(s)-1], true
	}
	return "", false
}

// recorder is a transport that keeps a copy of every request and reply the
// runtime hands it.
type recorder struct {
	runtime.Transport
	mu       sync.Mutex
	requests []*runtime.Message
	replies  []*runtime.Message
}

func (r *recorder) Request(ctx context.Context, m *runtime.Message) error {
	r.keep(&r.requests, m)
	return r.Transport.Request(ctx, m)
}

func (r *recorder) Reply(ctx context.Context, req, reply *runtime.Message) error {
	r.keep(&r.replies, reply)
	return r.Transport.Reply(ctx, req, reply)
}

func (r *recorder) keep(to *[]*runtime.Message, m *runtime.Message) {
	c := *m
	c.Properties = maps.Clone(m.Properties)
	c.Body = bytes.Clone(m.Body)
	r.mu.Lock()
	*to = append(*to, &c)
	r.mu.Unlock()
}

func (r *recorder) take() (requests, replies []*runtime.Message) {
	r.mu.Lock()
	defer r.mu.Unlock()
	requests, replies = r.requests, r.replies
	r.requests, r.replies = nil, nil
	return requests, replies
}

func asWire(m *runtime.Message) wireMessage {
	return wireMessage{Topic: m.Topic, Tag: m.Tag, Keys: m.Key, Properties: m.Properties, Body: m.Body}
}

// TestGoRuntimeProducesWireVectors makes each vector's call through the
// generated Go client and server and checks the messages the runtime hands
// its transport against the vectors. (The RocketMQ transport's own part,
// RIP-16 properties and the empty-body rule, is checked on a real broker by
// the Java tests below.)
func TestGoRuntimeProducesWireVectors(t *testing.T) {
	rec := &recorder{Transport: memtransport.New()}
	defer rec.Close()
	srv := runtime.NewServer(rec)
	if err := calculator.RegisterCalculator(srv, calculator.Server{}); err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	client, err := runtime.NewClient(rec)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	calc := calculator.NewCalculatorClient(client)

	const timeout = 30 * time.Second
	for _, tc := range []struct {
		name           string
		call           func(context.Context) error
		request, reply string
	}{
		{"Add", func(ctx context.Context) error { _, err := calc.Add(ctx, 2, 3); return err },
			"calculator_add_request", "calculator_add_reply"},
		{"DivByZero", func(ctx context.Context) error {
			_, _, err := calc.Div(ctx, 7, 0)
			if runtime.CodeOf(err) != runtime.InvalidArgument {
				t.Errorf("Div(7, 0): %v, want InvalidArgument", err)
			}
			return nil
		}, "calculator_div_request", "calculator_div_by_zero_reply"},
		{"StatsWithMetadata", func(ctx context.Context) error {
			ctx = runtime.AppendOutgoingMetadata(ctx, "Tenant", "acme")
			_, err := calc.Stats(ctx, calculator.Series{Name: "operands", Values: []float64{1.5, 2.25}})
			return err
		}, "calculator_stats_request", "calculator_stats_reply"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			start := time.Now()
			if err := tc.call(ctx); err != nil {
				t.Fatal(err)
			}
			requests, replies := rec.take()
			if len(requests) != 1 || len(replies) != 1 {
				t.Fatalf("%d requests and %d replies, want one of each", len(requests), len(replies))
			}
			req := matchVector(t, loadVector(t, tc.request), asWire(requests[0]), matchOptions{runtimeOnly: true})
			rep := matchVector(t, loadVector(t, tc.reply), asWire(replies[0]), matchOptions{runtimeOnly: true})
			if req["call_id"] != rep["call_id"] {
				t.Errorf("reply's call id %q is not the request's %q", rep["call_id"], req["call_id"])
			}
			ms, err := strconv.ParseInt(req["deadline_ms"], 10, 64)
			if d := time.UnixMilli(ms); err != nil || d.Before(start.Add(timeout-time.Second)) || d.After(time.Now().Add(timeout)) {
				t.Errorf("mqrpc-deadline %q is not the call's deadline, about %v", req["deadline_ms"], start.Add(timeout))
			}
			ms, err = strconv.ParseInt(rep["received_ms"], 10, 64)
			if err != nil || ms < start.UnixMilli() || ms > time.Now().UnixMilli() {
				t.Errorf("mqrpc-received %q is not a time during the call, from %v", rep["received_ms"], start)
			}
		})
	}
}

// TestJavaReadsWireVectors has msgpack-java decode every vector's body to
// its meaning and encode the meaning to the same bytes (the JUnit test of
// the Maven build does the same; this runs it even when the build is
// cached).
func TestJavaReadsWireVectors(t *testing.T) {
	dir, err := filepath.Abs(wireDir)
	if err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	lines := runJava(t, 2*time.Minute, "vectors", dir)
	if len(lines) != len(files) || len(files) == 0 {
		t.Errorf("java checked %d vectors, there are %d", len(lines), len(files))
	}
	for _, l := range lines {
		if l["ok"] != true {
			t.Errorf("java: %s: %v", l.str("file"), l["error"])
		}
	}
}

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("hex %q: %v", s, err)
	}
	return b
}

func asError(err error, target **runtime.Error) bool { return errors.As(err, target) }
