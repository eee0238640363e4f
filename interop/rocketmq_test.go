package interop_test

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mqrpc/mqrpc/examples/calculator/calculator"
	"github.com/mqrpc/mqrpc/interop/internal/eventlog"
	"github.com/mqrpc/mqrpc/runtime"
	"github.com/mqrpc/mqrpc/runtime/rocketmq"
)

// These tests need a RocketMQ broker (MQRPC_NAMESRV), java and mvn.

func newTransport(t testing.TB) *rocketmq.Transport {
	t.Helper()
	tr, err := rocketmq.New(rocketmq.Config{NameServers: []string{nameServer(t)}, Group: unique("interop_go")})
	if err != nil {
		t.Fatalf("rocketmq.New: %v", err)
	}
	t.Cleanup(func() { _ = tr.Close() })
	return tr
}

// serve starts a Go mqrpc server over RocketMQ on topic; Start returns once
// the topic exists on every broker.
func serve(t testing.TB, service, topic string, register func(*runtime.Server) error, opts ...runtime.ServerOption) {
	t.Helper()
	srv := runtime.NewServer(newTransport(t), append(opts, runtime.WithServiceTopic(service, topic))...)
	if err := register(srv); err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatalf("server start: %v", err)
	}
	t.Cleanup(srv.GracefulStop)
}

// spec is one message for the Java caller or sender to send.
func spec(tag string, args string, props map[string]string) string {
	s := fmt.Sprintf(`{"tag":%q,"args":%s`, tag, args)
	if props != nil {
		s += `,"properties":` + jsonOf(props)
	}
	return s + "}"
}

// TestJavaRequestCallsGoServer: a plain Java DefaultMQProducer.request()
// with msgpack-java bodies calls the generated Go calculator server.
func TestJavaRequestCallsGoServer(t *testing.T) {
	nameServer(t)
	javaClasspath(t)
	topic := unique("interop_calc")
	var (
		mu       sync.Mutex
		metadata = map[string][]runtime.Metadata{} // by method, as the handlers saw it
	)
	record := func(ctx context.Context, args any, info *runtime.UnaryServerInfo, handler runtime.UnaryHandler) (any, error) {
		mu.Lock()
		metadata[info.FullMethod] = append(metadata[info.FullMethod], runtime.IncomingMetadata(ctx).Clone())
		mu.Unlock()
		return handler(ctx, args)
	}
	serve(t, calculator.CalculatorServiceName, topic, func(s *runtime.Server) error {
		return calculator.RegisterCalculator(s, calculator.Server{})
	}, runtime.WithServerInterceptors(record))
	deadline := strconv.FormatInt(time.Now().Add(2*time.Minute).UnixMilli(), 10)
	full := map[string]string{
		"mqrpc-method":   calculator.Calculator_Div_FullMethodName,
		"mqrpc-codec":    "msgpack",
		"mqrpc-version":  "1",
		"mqrpc-deadline": deadline,
		"mqrpc-md-who":   "java",
	}
	cases := []struct {
		name, spec string
		status     string // "0" for OK
		results    string // JSON, when OK
		message    string // when not OK: the message starts with it
		vector     string // the reply must match it, when set
	}{
		{name: "add by topic and tag only", spec: spec("Add", "[2,3]", nil),
			status: "0", results: "[5]", vector: "calculator_add_reply"},
		{name: "div with every mqrpc property", spec: spec("Div", "[7,2]", full),
			status: "0", results: "[3,1]"},
		{name: "div by zero", spec: spec("Div", "[7,0]", nil),
			status: "3", message: "division of 7 by zero", vector: "calculator_div_by_zero_reply"},
		{name: "struct argument", spec: spec("Stats", `[{"Name":"operands","Values":[1.5,2.25]}]`, map[string]string{"mqrpc-md-tenant": "acme"}),
			status: "0", results: `[{"Name":"operands","Count":2,"Sum":3.75,"Min":1.5,"Max":2.25,"Mean":1.875}]`, vector: "calculator_stats_reply"},
		{name: "unknown method", spec: spec("Pow", "[2,3]", nil),
			status: "12", message: "unknown method /calculator.Calculator/Pow"},
		{name: "unknown protocol version", spec: spec("Add", "[2,3]", map[string]string{"mqrpc-version": "2"}),
			status: "3", message: `unsupported protocol version "2", this server speaks 1`},
		{name: "unknown codec", spec: spec("Add", "[2,3]", map[string]string{"mqrpc-codec": "cbor"}),
			status: "3", message: `codec "cbor" is not registered`},
		{name: "undecodable arguments", spec: spec("Add", `["two",3]`, nil),
			status: "3"},
	}
	specs := make([]string, len(cases))
	for i, c := range cases {
		specs[i] = c.spec
	}
	args := append([]string{"call", nameServer(t), unique("interop_java_caller"), topic}, specs...)
	lines := runJava(t, 3*time.Minute, args...)
	if len(lines) != len(cases) {
		t.Fatalf("java printed %d replies for %d calls: %v", len(lines), len(cases), lines)
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l := lines[i]
			if e := l.str("error"); e != "" {
				t.Fatalf("java request: %s", e)
			}
			if got := l.str("status"); got != c.status {
				t.Fatalf("status %s (%s), want %s", got, l.str("message"), c.status)
			}
			if c.status == "0" {
				if got, want := jsonOf(l["results"]), jsonOf(decodeJSON(t, c.results)); got != want {
					t.Errorf("results %s, want %s", got, c.results)
				}
			} else if !strings.HasPrefix(l.str("message"), c.message) {
				t.Errorf("message %q, want %q", l.str("message"), c.message)
			}
			if c.vector != "" {
				m := wireMessage{Topic: l.str("topic"), Properties: l.properties()}
				m.Keys = m.Properties["KEYS"]
				m.Body = mustHex(t, l.str("body_hex"))
				matchVector(t, loadVector(t, c.vector), m, matchOptions{})
			}
		})
	}
	// mqrpc-md-* properties set by a plain Java producer reach the handler
	// as call metadata.
	mu.Lock()
	defer mu.Unlock()
	for method, want := range map[string]string{
		calculator.Calculator_Div_FullMethodName:   "who=java",
		calculator.Calculator_Stats_FullMethodName: "tenant=acme",
	} {
		key, value, _ := strings.Cut(want, "=")
		if !slices.ContainsFunc(metadata[method], func(md runtime.Metadata) bool { return md.Get(key) == value }) {
			t.Errorf("no %s call carried metadata %s; the handlers saw %v", method, want, metadata[method])
		}
	}
}

// TestGoClientCallsJavaReplier: the generated Go client calls a plain Java
// consumer that answers with MessageUtil.createReplyMessage; a reply without
// mqrpc-status is OK, one with it is the typed error.
func TestGoClientCallsJavaReplier(t *testing.T) {
	ns := nameServer(t)
	javaClasspath(t)
	topic := unique("interop_jcalc")
	java := startJava(t, "reply", ns, unique("interop_java_replier"), topic)
	java.next(t, 2*time.Minute, "ready line", func(l line) bool { return l.str("event") == "ready" })

	client, err := runtime.NewClient(newTransport(t))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	calc := calculator.NewCalculatorClient(client, runtime.WithTopic(topic))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	request := func(tag string) wireMessage {
		t.Helper()
		l := java.next(t, time.Minute, tag+" request", func(l line) bool { return l.str("event") == "request" && l.str("tag") == tag })
		return wireMessage{Topic: l.str("topic"), Tag: l.str("tag"), Keys: l.str("keys"), Properties: l.properties(), Body: mustHex(t, l.str("body_hex"))}
	}

	sum, err := calc.Add(ctx, 2, 3)
	if err != nil || sum != 5 {
		t.Fatalf("Add(2, 3) = %d, %v; want 5", sum, err)
	}
	add := request("Add")
	t.Logf("Add request as Java received it: keys %s, properties %v, body %x", add.Keys, add.Properties, add.Body)
	matchVector(t, loadVector(t, "calculator_add_request"), add, matchOptions{anyTopic: true})

	q, r, err := calc.Div(ctx, 7, 2)
	if err != nil || q != 3 || r != 1 {
		t.Errorf("Div(7, 2) = %d, %d, %v; want 3, 1", q, r, err)
	}
	request("Div")

	_, _, err = calc.Div(ctx, 7, 0)
	var e *runtime.Error
	if !asError(err, &e) || e.Code != runtime.InvalidArgument || e.Message != "division of 7 by zero" || len(e.Details) != 0 {
		t.Errorf("Div(7, 0): %#v, want InvalidArgument %q without details", err, "division of 7 by zero")
	}
	matchVector(t, loadVector(t, "calculator_div_request"), request("Div"), matchOptions{anyTopic: true})

	_, err = calc.Stats(ctx, calculator.Series{Name: "x"})
	if runtime.CodeOf(err) != runtime.Unimplemented {
		t.Errorf("Stats on a replier without it: %v, want Unimplemented", err)
	}
}

// TestJavaOneWaySendReachesGoMethod: a plain producer.send() of a msgpack
// array runs a Go one-way (mqrpc:oneway) method.
func TestJavaOneWaySendReachesGoMethod(t *testing.T) {
	ns := nameServer(t)
	javaClasspath(t)
	topic := unique("interop_events")
	got := make(chan string, 10)
	serve(t, eventlog.EventLogServiceName, topic, func(s *runtime.Server) error {
		return eventlog.RegisterEventLog(s, recordFunc(func(ctx context.Context, name string, value int) error {
			got <- fmt.Sprintf("%s=%d who=%s", name, value, runtime.IncomingMetadata(ctx).Get("who"))
			return nil
		}))
	})
	lines := runJava(t, 2*time.Minute, "send", ns, unique("interop_java_sender"), topic,
		spec("Record", `["hello",42]`, nil),
		spec("Record", `["world",-7]`, map[string]string{"mqrpc-method": eventlog.EventLog_Record_FullMethodName, "mqrpc-md-who": "java"}))
	for _, l := range lines {
		if l.str("send_status") != "SEND_OK" {
			t.Errorf("java send: %v", l)
		}
	}
	want := []string{"hello=42 who=", "world=-7 who=java"}
	var events []string
	timeout := time.After(time.Minute)
	for len(events) < len(want) {
		select {
		case e := <-got:
			events = append(events, e)
		case <-timeout:
			t.Fatalf("Record ran for %v, want %v", events, want)
		}
	}
	slices.Sort(events)
	if !slices.Equal(events, want) {
		t.Errorf("Record ran for %v, want %v", events, want)
	}
}

type recordFunc func(ctx context.Context, name string, value int) error

func (f recordFunc) Record(ctx context.Context, name string, value int) error {
	return f(ctx, name, value)
}
