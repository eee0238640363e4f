// Package otelmqrpc traces and measures mqrpc calls with OpenTelemetry.
//
//	client, err := runtime.NewClient(tr, runtime.WithClientInterceptors(otelmqrpc.ClientInterceptor()))
//	srv := runtime.NewServer(tr, runtime.WithServerInterceptors(otelmqrpc.ServerInterceptor()))
//
// The client interceptor starts a client span per call and carries its W3C
// trace context to the server in the call's metadata (the request
// properties mqrpc-md-traceparent and mqrpc-md-tracestate); the server
// interceptor continues that trace with a server span whose parent is the
// client's span. Spans and metrics follow OpenTelemetry's RPC semantic
// conventions (v1.43.0): the span name is the method without its leading
// slash ("calculator.Calculator/Add"), with the attributes rpc.system.name
// ("mqrpc"), rpc.method ("calculator.Calculator/Add"),
// rpc.response.status_code ("OK", "INVALID_ARGUMENT", ...) and error.type
// on failures, plus messaging.system (as the transport names itself:
// "rocketmq", "memtransport"), messaging.destination.name (the request topic) and messaging.message.id
// (the call id).
//
// A call over a queue spends its time in three places, which the
// interceptors measure from the times the messages carry (see
// runtime.CallInfo):
//
//   - queue wait: from the client sending the request to the server taking
//     it, on the server span as mqrpc.queue_wait.duration and in the
//     histogram mqrpc.server.queue_wait.duration;
//   - handler: the server span itself and rpc.server.call.duration;
//   - reply transit: from the server sending the reply to the waiting call
//     receiving it, on the client span as mqrpc.reply_transit.duration and
//     in the histogram mqrpc.client.reply_transit.duration.
//
// The client span and rpc.client.call.duration cover the whole call.
// Durations are in seconds. Queue wait and reply transit subtract times
// taken by two machines' clocks, so they are only as right as those clocks
// agree; a skew that would make one negative records zero. With NTP on
// both sides expect errors of a few milliseconds; RocketMQ keeps its
// timestamps in whole milliseconds too.
//
// Calls and errors by code are the counts of the call-duration histograms,
// by rpc.response.status_code.
package otelmqrpc

import (
	"strings"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/mqrpc/mqrpc/runtime"
)

// ScopeName is the instrumentation scope of the tracers and meters this
// package uses.
const ScopeName = "github.com/mqrpc/mqrpc/runtime/otelmqrpc"

// SystemName is the value of rpc.system.name on mqrpc spans and metrics.
// mqrpc is its own RPC protocol (method and status properties, deadlines,
// codecs) that happens to travel over RocketMQ; the transport shows in
// messaging.system.
const SystemName = "mqrpc"

// Attribute keys this package adds to the RPC semantic conventions.
const (
	// QueueWaitKey is the server span's queue wait, in seconds.
	QueueWaitKey = attribute.Key("mqrpc.queue_wait.duration")
	// ReplyTransitKey is the client span's reply transit, in seconds.
	ReplyTransitKey = attribute.Key("mqrpc.reply_transit.duration")
)

// Option configures the interceptors.
type Option func(*config)

type config struct {
	tp         trace.TracerProvider
	mp         metric.MeterProvider
	propagator propagation.TextMapPropagator
}

// WithTracerProvider sets where spans go. Default: otel.GetTracerProvider().
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(c *config) { c.tp = tp }
}

// WithMeterProvider sets where metrics go. Default: otel.GetMeterProvider().
func WithMeterProvider(mp metric.MeterProvider) Option {
	return func(c *config) { c.mp = mp }
}

// WithPropagator sets how trace context travels in call metadata. Default:
// the global propagator (otel.SetTextMapPropagator) when one is set before
// the interceptor is made, W3C trace context otherwise.
func WithPropagator(p propagation.TextMapPropagator) Option {
	return func(c *config) { c.propagator = p }
}

func newConfig(opts []Option) *config {
	c := &config{}
	for _, o := range opts {
		o(c)
	}
	if c.tp == nil {
		c.tp = otel.GetTracerProvider()
	}
	if c.mp == nil {
		c.mp = otel.GetMeterProvider()
	}
	if c.propagator == nil {
		// The global propagator does nothing until an application sets
		// one; trace context that silently stops at the queue is the
		// surprise this default avoids.
		c.propagator = otel.GetTextMapPropagator()
		if len(c.propagator.Fields()) == 0 {
			c.propagator = propagation.TraceContext{}
		}
	}
	return c
}

func (c *config) tracer() trace.Tracer {
	return c.tp.Tracer(ScopeName, trace.WithSchemaURL(semconv.SchemaURL))
}

func (c *config) meter() metric.Meter {
	return c.mp.Meter(ScopeName, metric.WithSchemaURL(semconv.SchemaURL))
}

// systemAttr is a constant attribute of every span and measurement.
var systemAttr = semconv.RPCSystemNameKey.String(SystemName)

// statusCodes holds rpc.response.status_code values, the gRPC names of the
// codes mqrpc shares with gRPC.
var statusCodes = func() []attribute.KeyValue {
	kv := make([]attribute.KeyValue, runtime.Unauthenticated+1)
	for c := range kv {
		kv[c] = semconv.RPCResponseStatusCode(strings.ToUpper(runtime.Code(c).String()))
	}
	return kv
}()

func statusCode(c runtime.Code) attribute.KeyValue {
	if int(c) < len(statusCodes) {
		return statusCodes[c]
	}
	return semconv.RPCResponseStatusCode(strings.ToUpper(c.String()))
}

// errorType is error.type for a failed call: its status code, as the RPC
// conventions ask.
func errorType(c runtime.Code) attribute.KeyValue {
	return semconv.ErrorTypeKey.String(statusCode(c).Value.AsString())
}

// methodName is rpc.method and the span name: the full method name without
// its leading slash.
func methodName(fullMethod string) string { return strings.TrimPrefix(fullMethod, "/") }

// serverError reports the codes that mark a server span as failed; the
// others describe the caller's request, and only the client span fails
// with them (as the gRPC conventions have it).
func serverError(c runtime.Code) bool {
	switch c {
	case runtime.Unknown, runtime.DeadlineExceeded, runtime.Unimplemented, runtime.Internal, runtime.Unavailable, runtime.DataLoss:
		return true
	}
	return false
}
