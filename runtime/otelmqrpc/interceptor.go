package otelmqrpc

import (
	"context"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/semconv/v1.43.0/rpcconv"
	"go.opentelemetry.io/otel/trace"

	"github.com/mqrpc/mqrpc/runtime"
)

// splitBuckets are the histogram bounds of queue wait and reply transit, in
// seconds: from a millisecond (the resolution of RocketMQ's timestamps) to
// a minute, since a request may wait in the queue for a long time.
var splitBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}

// histogram makes a histogram in seconds, or a no-op one (after reporting
// the error to otel.Handle) when the meter refuses.
func histogram(m metric.Meter, name, desc string) metric.Float64Histogram {
	h, err := m.Float64Histogram(name, metric.WithUnit("s"), metric.WithDescription(desc),
		metric.WithExplicitBucketBoundaries(splitBuckets...))
	if err != nil {
		otel.Handle(err)
		return noop.Float64Histogram{}
	}
	return h
}

// ClientInterceptor returns a client interceptor that makes a client span
// for each call, sends its trace context with the request, and records
// rpc.client.call.duration and mqrpc.client.reply_transit.duration.
func ClientInterceptor(opts ...Option) runtime.UnaryClientInterceptor {
	c := newConfig(opts)
	tracer := c.tracer()
	meter := c.meter()
	duration, err := rpcconv.NewClientCallDuration(meter)
	if err != nil {
		otel.Handle(err)
	}
	transit := histogram(meter, "mqrpc.client.reply_transit.duration",
		"Time from the server sending a reply to the waiting call receiving it, by two clocks.")
	return func(ctx context.Context, method string, args, results any, invoke runtime.Invoker) error {
		name := methodName(method)
		start := time.Now()
		ctx, span := tracer.Start(ctx, name,
			trace.WithSpanKind(trace.SpanKindClient),
			trace.WithTimestamp(start),
			trace.WithAttributes(systemAttr, semconv.RPCMethod(name)))
		ctx = inject(ctx, c.propagator)

		finished := false
		finish := func(err error) {
			finished = true
			end := time.Now()
			code := runtime.CodeOf(err)
			attrs := []attribute.KeyValue{systemAttr, semconv.RPCMethod(name), statusCode(code)}
			if code != runtime.OK {
				attrs = append(attrs, errorType(code))
				span.SetStatus(codes.Error, err.Error())
			}
			ci, _ := runtime.CallInfoFromContext(ctx)
			span.SetAttributes(attrs[2:]...)
			if ci.ID != "" {
				span.SetAttributes(semconv.MessagingMessageID(ci.ID), semconv.MessagingDestinationName(ci.Topic))
			}
			if ci.System != "" {
				span.SetAttributes(semconv.MessagingSystemKey.String(ci.System))
			}
			replied := !ci.ReplySent.IsZero() && !ci.ReplyReceived.IsZero()
			if replied {
				span.SetAttributes(ReplyTransitKey.Float64(ci.ReplyTransit().Seconds()))
			}
			span.End(trace.WithTimestamp(end))

			duration.Inst().Record(ctx, end.Sub(start).Seconds(), metric.WithAttributeSet(attribute.NewSet(attrs...)))
			if replied {
				transit.Record(ctx, ci.ReplyTransit().Seconds(), metric.WithAttributeSet(attribute.NewSet(systemAttr, semconv.RPCMethod(name))))
			}
		}
		// A panic below is not recovered here: the span ends, and the
		// panic goes on to whoever handles it.
		defer func() {
			if !finished {
				finish(runtime.NewError(runtime.Internal, "panic during the call"))
			}
		}()
		err := invoke(ctx, method, args, results)
		finish(err)
		return err
	}
}

// ServerInterceptor returns a server interceptor that continues the
// caller's trace with a server span for each call, with its queue wait,
// and records rpc.server.call.duration and
// mqrpc.server.queue_wait.duration.
func ServerInterceptor(opts ...Option) runtime.UnaryServerInterceptor {
	c := newConfig(opts)
	tracer := c.tracer()
	meter := c.meter()
	duration, err := rpcconv.NewServerCallDuration(meter)
	if err != nil {
		otel.Handle(err)
	}
	wait := histogram(meter, "mqrpc.server.queue_wait.duration",
		"Time from the client sending a request to the server taking it, by two clocks.")
	return func(ctx context.Context, args any, info *runtime.UnaryServerInfo, handler runtime.UnaryHandler) (any, error) {
		ctx = extract(ctx, c.propagator)
		name := methodName(info.FullMethod)
		method := semconv.RPCMethod(name)
		ci, _ := runtime.CallInfoFromContext(ctx)
		attrs := []attribute.KeyValue{systemAttr, method,
			semconv.MessagingMessageID(ci.ID), semconv.MessagingDestinationName(ci.Topic)}
		if ci.System != "" {
			attrs = append(attrs, semconv.MessagingSystemKey.String(ci.System))
		}
		known := !ci.RequestSent.IsZero() && !ci.RequestReceived.IsZero()
		if known {
			attrs = append(attrs, QueueWaitKey.Float64(ci.QueueWait().Seconds()))
		}
		start := time.Now()
		ctx, span := tracer.Start(ctx, name,
			trace.WithSpanKind(trace.SpanKindServer),
			trace.WithTimestamp(start),
			trace.WithAttributes(attrs...))
		if known {
			wait.Record(ctx, ci.QueueWait().Seconds(), metric.WithAttributeSet(attribute.NewSet(systemAttr, method)))
		}

		finished := false
		finish := func(err error) {
			finished = true
			end := time.Now()
			code := runtime.CodeOf(err)
			attrs := []attribute.KeyValue{systemAttr, method, statusCode(code)}
			if serverError(code) {
				attrs = append(attrs, errorType(code))
				span.SetStatus(codes.Error, err.Error())
			}
			span.SetAttributes(attrs[2:]...)
			span.End(trace.WithTimestamp(end))
			duration.Inst().Record(ctx, end.Sub(start).Seconds(), metric.WithAttributeSet(attribute.NewSet(attrs...)))
		}
		// The server turns a handler panic into Internal after the
		// interceptors have unwound; record it as that without recovering,
		// so that the server's log keeps the panic's own stack.
		defer func() {
			if !finished {
				finish(runtime.NewError(runtime.Internal, "handler panic"))
			}
		}()
		results, err := handler(ctx, args)
		finish(err)
		return results, err
	}
}
