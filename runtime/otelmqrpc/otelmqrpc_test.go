package otelmqrpc_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/goleak"

	"github.com/mqrpc/mqrpc/examples/calculator/calculator"
	"github.com/mqrpc/mqrpc/runtime"
	"github.com/mqrpc/mqrpc/runtime/memtransport"
	"github.com/mqrpc/mqrpc/runtime/otelmqrpc"
	"github.com/mqrpc/mqrpc/runtime/rocketmq/rocketmqtest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, rocketmqtest.IgnoreLibraryGoroutines()...)
}

// telemetry records what the interceptors emit.
type telemetry struct {
	spans  *tracetest.SpanRecorder
	tp     *sdktrace.TracerProvider
	reader *sdkmetric.ManualReader
	mp     *sdkmetric.MeterProvider
}

func newTelemetry(t *testing.T) *telemetry {
	t.Helper()
	tel := &telemetry{spans: tracetest.NewSpanRecorder(), reader: sdkmetric.NewManualReader()}
	tel.tp = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(tel.spans))
	tel.mp = sdkmetric.NewMeterProvider(sdkmetric.WithReader(tel.reader))
	t.Cleanup(func() {
		_ = tel.tp.Shutdown(context.Background())
		_ = tel.mp.Shutdown(context.Background())
	})
	return tel
}

func (tel *telemetry) options() []otelmqrpc.Option {
	return []otelmqrpc.Option{otelmqrpc.WithTracerProvider(tel.tp), otelmqrpc.WithMeterProvider(tel.mp)}
}

// endpoints are the two transports of a test: one for the server, one for
// the client, on a shared broker.
type endpoints struct{ server, client runtime.Transport }

func memEndpoints(t *testing.T) endpoints {
	broker := memtransport.NewBroker()
	e := endpoints{broker.NewTransport(), broker.NewTransport()}
	t.Cleanup(func() { _ = e.client.Close(); _ = e.server.Close() })
	return e
}

// newCalculator serves the example calculator on topic with the server
// options and returns a client of it with the client options.
func newCalculator(t *testing.T, e endpoints, topic string, copts []runtime.ClientOption, sopts ...runtime.ServerOption) *calculator.CalculatorClient {
	t.Helper()
	srv := runtime.NewServer(e.server, append(sopts, runtime.WithServiceTopic(calculator.CalculatorServiceName, topic))...)
	if err := calculator.RegisterCalculator(srv, calculator.Server{}); err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.GracefulStop)
	client, err := runtime.NewClient(e.client, copts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Close() })
	return calculator.NewCalculatorClient(client, runtime.WithTopic(topic), runtime.WithTimeout(30*time.Second))
}

// instrumented returns a calculator client whose client and server both
// run the otelmqrpc interceptors into tel.
func instrumented(t *testing.T, e endpoints, topic string, tel *telemetry) *calculator.CalculatorClient {
	return newCalculator(t, e, topic,
		[]runtime.ClientOption{runtime.WithClientInterceptors(otelmqrpc.ClientInterceptor(tel.options()...))},
		runtime.WithServerInterceptors(otelmqrpc.ServerInterceptor(tel.options()...)))
}

func attrs(s sdktrace.ReadOnlySpan) map[attribute.Key]attribute.Value {
	m := make(map[attribute.Key]attribute.Value)
	for _, kv := range s.Attributes() {
		m[kv.Key] = kv.Value
	}
	return m
}

// clientAndServer returns the one client and one server span recorded.
func clientAndServer(t *testing.T, spans []sdktrace.ReadOnlySpan) (client, server sdktrace.ReadOnlySpan) {
	t.Helper()
	for _, s := range spans {
		switch s.SpanKind() {
		case trace.SpanKindClient:
			client = s
		case trace.SpanKindServer:
			server = s
		}
	}
	if len(spans) != 2 || client == nil || server == nil {
		t.Fatalf("recorded %d spans %v, want one client and one server span", len(spans), spans)
	}
	return client, server
}

// checkLinked checks that the server span continues the client span's
// trace as its child, and returns the server's queue wait.
func checkLinked(t *testing.T, client, server sdktrace.ReadOnlySpan) time.Duration {
	t.Helper()
	if client.SpanContext().TraceID() != server.SpanContext().TraceID() {
		t.Errorf("client trace %s, server trace %s: not one trace", client.SpanContext().TraceID(), server.SpanContext().TraceID())
	}
	if p := server.Parent(); p.SpanID() != client.SpanContext().SpanID() || !p.IsRemote() {
		t.Errorf("server span's parent = %s (remote %v), want the client span %s", p.SpanID(), p.IsRemote(), client.SpanContext().SpanID())
	}
	ca, sa := attrs(client), attrs(server)
	if id := ca["messaging.message.id"].AsString(); id == "" || id != sa["messaging.message.id"].AsString() {
		t.Errorf("messaging.message.id: client %q, server %q; want one call id", id, sa["messaging.message.id"].AsString())
	}
	w, ok := sa[otelmqrpc.QueueWaitKey]
	if !ok || w.Type() != attribute.FLOAT64 {
		t.Fatalf("server span has no %s attribute: %v", otelmqrpc.QueueWaitKey, server.Attributes())
	}
	wait := time.Duration(w.AsFloat64() * float64(time.Second))
	if call := client.EndTime().Sub(client.StartTime()); wait < 0 || wait > call {
		t.Errorf("queue wait %v, want between 0 and the whole call's %v", wait, call)
	}
	if tr, ok := ca[otelmqrpc.ReplyTransitKey]; !ok || tr.AsFloat64() < 0 {
		t.Errorf("client span has no non-negative %s attribute: %v", otelmqrpc.ReplyTransitKey, client.Attributes())
	}
	return wait
}

func TestSpansOfACall(t *testing.T) {
	tel := newTelemetry(t)
	calc := instrumented(t, memEndpoints(t), "otel_spans", tel)
	if sum, err := calc.Add(t.Context(), 2, 3); err != nil || sum != 5 {
		t.Fatalf("Add(2, 3) = %d, %v", sum, err)
	}
	client, server := clientAndServer(t, tel.spans.Ended())
	checkLinked(t, client, server)
	for _, s := range []sdktrace.ReadOnlySpan{client, server} {
		if s.Name() != "calculator.Calculator/Add" {
			t.Errorf("%s span name %q, want calculator.Calculator/Add", s.SpanKind(), s.Name())
		}
		a := attrs(s)
		want := map[attribute.Key]string{
			"rpc.system.name":            "mqrpc",
			"rpc.method":                 "calculator.Calculator/Add",
			"rpc.response.status_code":   "OK",
			"messaging.system":           "memtransport",
			"messaging.destination.name": "otel_spans",
		}
		for k, v := range want {
			if got := a[k].AsString(); got != v {
				t.Errorf("%s span %s = %q, want %q", s.SpanKind(), k, got, v)
			}
		}
		if _, ok := a["error.type"]; ok || s.Status().Code != codes.Unset {
			t.Errorf("%s span of a successful call has status %v, error.type %v", s.SpanKind(), s.Status(), a["error.type"])
		}
	}
	if !server.StartTime().After(client.StartTime()) || server.EndTime().After(client.EndTime()) {
		t.Errorf("server span [%v, %v] is not inside the client span [%v, %v]", server.StartTime(), server.EndTime(), client.StartTime(), client.EndTime())
	}
}

func TestClientSpanIsChildOfCallersSpan(t *testing.T) {
	tel := newTelemetry(t)
	calc := instrumented(t, memEndpoints(t), "otel_parent", tel)
	ctx, parent := tel.tp.Tracer("test").Start(t.Context(), "caller")
	if _, err := calc.Add(ctx, 1, 1); err != nil {
		t.Fatal(err)
	}
	parent.End()
	var client sdktrace.ReadOnlySpan
	for _, s := range tel.spans.Ended() {
		if s.SpanKind() == trace.SpanKindClient {
			client = s
		}
	}
	if client == nil || client.Parent().SpanID() != parent.SpanContext().SpanID() {
		t.Errorf("client span %v is not a child of the caller's span %s", client, parent.SpanContext().SpanID())
	}
}

// A status the caller caused fails the client span only; one the server
// caused (here a handler panic, Internal) fails both.
func TestFailedCalls(t *testing.T) {
	tel := newTelemetry(t)
	panicky := func(ctx context.Context, args any, info *runtime.UnaryServerInfo, handler runtime.UnaryHandler) (any, error) {
		if info.FullMethod == calculator.Calculator_Mul_FullMethodName {
			panic("boom")
		}
		return handler(ctx, args)
	}
	calc := newCalculator(t, memEndpoints(t), "otel_failed",
		[]runtime.ClientOption{runtime.WithClientInterceptors(otelmqrpc.ClientInterceptor(tel.options()...))},
		runtime.WithServerInterceptors(otelmqrpc.ServerInterceptor(tel.options()...), panicky))

	cases := []struct {
		name        string
		call        func() error
		code        string
		serverFails bool
	}{
		{"InvalidArgument", func() error { _, _, err := calc.Div(t.Context(), 1, 0); return err }, "INVALID_ARGUMENT", false},
		{"HandlerPanic", func() error { _, err := calc.Mul(t.Context(), 1, 2); return err }, "INTERNAL", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tel.spans.Reset()
			err := c.call()
			if err == nil {
				t.Fatal("call succeeded")
			}
			client, server := clientAndServer(t, tel.spans.Ended())
			checkLinked(t, client, server)
			if a := attrs(client); client.Status().Code != codes.Error || a["rpc.response.status_code"].AsString() != c.code || a["error.type"].AsString() != c.code {
				t.Errorf("client span: status %v, attributes %v; want Error and %s", client.Status(), client.Attributes(), c.code)
			}
			a := attrs(server)
			if a["rpc.response.status_code"].AsString() != c.code {
				t.Errorf("server span rpc.response.status_code = %q, want %s", a["rpc.response.status_code"].AsString(), c.code)
			}
			if failed := server.Status().Code == codes.Error; failed != c.serverFails || a["error.type"].AsString() != map[bool]string{true: c.code}[c.serverFails] {
				t.Errorf("server span: status %v, error.type %q; want failed=%v", server.Status(), a["error.type"].AsString(), c.serverFails)
			}
		})
	}
}

// The trace context travels as the W3C traceparent in the call's metadata,
// where any server (with otelmqrpc or not) can read it.
func TestTraceparentInMetadata(t *testing.T) {
	tel := newTelemetry(t)
	got := make(chan string, 1)
	peek := func(ctx context.Context, args any, info *runtime.UnaryServerInfo, handler runtime.UnaryHandler) (any, error) {
		got <- runtime.IncomingMetadata(ctx).Get("traceparent")
		return handler(ctx, args)
	}
	calc := newCalculator(t, memEndpoints(t), "otel_traceparent",
		[]runtime.ClientOption{runtime.WithClientInterceptors(otelmqrpc.ClientInterceptor(tel.options()...))},
		runtime.WithServerInterceptors(peek))
	if _, err := calc.Add(t.Context(), 1, 2); err != nil {
		t.Fatal(err)
	}
	sc := tel.spans.Ended()[0].SpanContext()
	if want := fmt.Sprintf("00-%s-%s-01", sc.TraceID(), sc.SpanID()); <-got != want {
		t.Errorf("traceparent metadata differs from the client span %s", want)
	}
}

func TestWithPropagator(t *testing.T) {
	tel := newTelemetry(t)
	got := make(chan runtime.Metadata, 1)
	peek := func(ctx context.Context, args any, info *runtime.UnaryServerInfo, handler runtime.UnaryHandler) (any, error) {
		got <- runtime.IncomingMetadata(ctx)
		return handler(ctx, args)
	}
	opts := append(tel.options(), otelmqrpc.WithPropagator(propagation.Baggage{}))
	calc := newCalculator(t, memEndpoints(t), "otel_propagator",
		[]runtime.ClientOption{runtime.WithClientInterceptors(otelmqrpc.ClientInterceptor(opts...))},
		runtime.WithServerInterceptors(peek))
	if _, err := calc.Add(t.Context(), 1, 2); err != nil {
		t.Fatal(err)
	}
	if md := <-got; md.Get("traceparent") != "" {
		t.Errorf("traceparent sent although the propagator is Baggage alone: %v", md)
	}
}

// histograms returns the data points of every histogram in the reader's
// collection, by instrument name.
func histograms(t *testing.T, r *sdkmetric.ManualReader) map[string]metricdata.Metrics {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := r.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	out := make(map[string]metricdata.Metrics)
	for _, sm := range rm.ScopeMetrics {
		if sm.Scope.Name != otelmqrpc.ScopeName {
			t.Errorf("metrics in scope %q, want %q", sm.Scope.Name, otelmqrpc.ScopeName)
		}
		for _, m := range sm.Metrics {
			out[m.Name] = m
		}
	}
	return out
}

// counts returns a histogram's count by the value of one attribute.
func counts(t *testing.T, m metricdata.Metrics, key attribute.Key) map[string]uint64 {
	t.Helper()
	h, ok := m.Data.(metricdata.Histogram[float64])
	if !ok {
		t.Fatalf("%s is a %T, want a float64 histogram", m.Name, m.Data)
	}
	out := make(map[string]uint64)
	for _, dp := range h.DataPoints {
		if v, _ := dp.Attributes.Value("rpc.system.name"); v.AsString() != "mqrpc" {
			t.Errorf("%s data point without rpc.system.name=mqrpc: %v", m.Name, dp.Attributes)
		}
		if v, _ := dp.Attributes.Value("rpc.method"); v.AsString() == "" {
			t.Errorf("%s data point without rpc.method: %v", m.Name, dp.Attributes)
		}
		if v, ok := dp.Min.Value(); ok && v < 0 {
			t.Errorf("%s has a negative value %v", m.Name, v)
		}
		v, _ := dp.Attributes.Value(key)
		out[v.Emit()] += dp.Count
	}
	return out
}

func TestMetrics(t *testing.T) {
	tel := newTelemetry(t)
	calc := instrumented(t, memEndpoints(t), "otel_metrics", tel)
	for i := range 3 {
		if _, err := calc.Add(t.Context(), i, i); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := calc.Div(t.Context(), 1, 0); runtime.CodeOf(err) != runtime.InvalidArgument {
		t.Fatalf("Div(1, 0): %v", err)
	}
	ms := histograms(t, tel.reader)
	byCode := map[string]uint64{"OK": 3, "INVALID_ARGUMENT": 1}
	byMethod := map[string]uint64{"calculator.Calculator/Add": 3, "calculator.Calculator/Div": 1}
	for _, c := range []struct {
		name string
		key  attribute.Key
		want map[string]uint64
	}{
		{"rpc.client.call.duration", "rpc.response.status_code", byCode},
		{"rpc.server.call.duration", "rpc.response.status_code", byCode},
		{"rpc.client.call.duration", "rpc.method", byMethod},
		{"mqrpc.server.queue_wait.duration", "rpc.method", byMethod},
		{"mqrpc.client.reply_transit.duration", "rpc.method", byMethod},
	} {
		m, ok := ms[c.name]
		if !ok {
			t.Errorf("no %s metric; have %v", c.name, keys(ms))
			continue
		}
		if m.Unit != "s" {
			t.Errorf("%s unit %q, want s", c.name, m.Unit)
		}
		if got := counts(t, m, c.key); fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("%s counts by %s = %v, want %v", c.name, c.key, got, c.want)
		}
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
