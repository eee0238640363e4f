// Package slogmqrpc logs mqrpc calls with log/slog: one record per call on
// each side, with the method, the call id, the status code and how long it
// took.
//
//	client, err := runtime.NewClient(tr, runtime.WithClientInterceptors(slogmqrpc.ClientInterceptor(logger)))
//	srv := runtime.NewServer(tr, runtime.WithServerInterceptors(slogmqrpc.ServerInterceptor(logger)))
//
// Successful calls are logged at Debug, failed ones at Warn or Error by
// their code (see DefaultLevel). A record looks like this with
// slog.NewTextHandler:
//
//	level=DEBUG msg="mqrpc: call" method=/calculator.Calculator/Add call_id=5f0c2a9e11d4-1 code=ok duration=2.91ms reply_transit=1ms
//	level=WARN msg="mqrpc: handled" method=/calculator.Calculator/Div call_id=5f0c2a9e11d4-2 code=invalid_argument duration=41.2µs queue_wait=2ms err="invalid_argument: division of 7 by zero"
//
// The server logs queue_wait, the time from the client sending the request
// to the server taking it, and the client reply_transit, the time from the
// server sending the reply to the call receiving it, when the transport
// reports the times they need. Each subtracts times of two machines'
// clocks; see runtime.CallInfo.
//
// The interceptors log with the call's context, so a handler that adds
// trace ids from the context (with otelmqrpc's interceptor outside this
// one) ties the records to the call's spans.
package slogmqrpc

import (
	"context"
	"log/slog"
	"time"

	"github.com/mqrpc/mqrpc/runtime"
)

// Option configures the interceptors.
type Option func(*config)

type config struct {
	level func(runtime.Code) slog.Level
}

// WithLevels sets the level of a call's record by its code, in place of
// DefaultLevel.
func WithLevels(level func(runtime.Code) slog.Level) Option {
	return func(c *config) { c.level = level }
}

// DefaultLevel is the level of a call's record: Debug for OK; Error for
// the codes that say the server or the system failed (Unknown,
// Unimplemented, Internal, Unavailable, DataLoss); Warn for the others,
// which say the call could not be done as asked (InvalidArgument,
// NotFound, DeadlineExceeded, Canceled, ...).
func DefaultLevel(c runtime.Code) slog.Level {
	switch c {
	case runtime.OK:
		return slog.LevelDebug
	case runtime.Unknown, runtime.Unimplemented, runtime.Internal, runtime.Unavailable, runtime.DataLoss:
		return slog.LevelError
	}
	return slog.LevelWarn
}

func newConfig(l *slog.Logger, opts []Option) (*slog.Logger, *config) {
	c := &config{level: DefaultLevel}
	for _, o := range opts {
		o(c)
	}
	if l == nil {
		l = slog.Default()
	}
	return l, c
}

// Keys of the attributes the interceptors log.
const (
	MethodKey       = "method"
	CallIDKey       = "call_id"
	CodeKey         = "code"
	DurationKey     = "duration"
	QueueWaitKey    = "queue_wait"
	ReplyTransitKey = "reply_transit"
	ErrorKey        = "err"
)

// ClientInterceptor returns a client interceptor that logs each call to l
// (slog.Default() when nil) when it returns.
func ClientInterceptor(l *slog.Logger, opts ...Option) runtime.UnaryClientInterceptor {
	l, c := newConfig(l, opts)
	return func(ctx context.Context, method string, args, results any, invoke runtime.Invoker) error {
		start := time.Now()
		finished := false
		finish := func(err error) {
			finished = true
			d := time.Since(start)
			code := runtime.CodeOf(err)
			level := c.level(code)
			if !l.Enabled(ctx, level) {
				return
			}
			ci, _ := runtime.CallInfoFromContext(ctx)
			attrs := make([]slog.Attr, 0, 6)
			attrs = append(attrs, slog.String(MethodKey, method), slog.String(CallIDKey, ci.ID),
				slog.String(CodeKey, code.String()), slog.Duration(DurationKey, d))
			if !ci.ReplySent.IsZero() && !ci.ReplyReceived.IsZero() {
				attrs = append(attrs, slog.Duration(ReplyTransitKey, ci.ReplyTransit()))
			}
			if err != nil {
				attrs = append(attrs, slog.String(ErrorKey, err.Error()))
			}
			l.LogAttrs(ctx, level, "mqrpc: call", attrs...)
		}
		defer func() {
			if !finished { // a panic on its way up; not ours to recover
				finish(runtime.NewError(runtime.Internal, "panic during the call"))
			}
		}()
		err := invoke(ctx, method, args, results)
		finish(err)
		return err
	}
}

// ServerInterceptor returns a server interceptor that logs each call it
// handles to l (slog.Default() when nil) when the handler returns.
func ServerInterceptor(l *slog.Logger, opts ...Option) runtime.UnaryServerInterceptor {
	l, c := newConfig(l, opts)
	return func(ctx context.Context, args any, info *runtime.UnaryServerInfo, handler runtime.UnaryHandler) (any, error) {
		start := time.Now()
		finished := false
		finish := func(err error) {
			finished = true
			d := time.Since(start)
			code := runtime.CodeOf(err)
			level := c.level(code)
			if !l.Enabled(ctx, level) {
				return
			}
			ci, _ := runtime.CallInfoFromContext(ctx)
			attrs := make([]slog.Attr, 0, 6)
			attrs = append(attrs, slog.String(MethodKey, info.FullMethod), slog.String(CallIDKey, ci.ID),
				slog.String(CodeKey, code.String()), slog.Duration(DurationKey, d))
			if !ci.RequestSent.IsZero() && !ci.RequestReceived.IsZero() {
				attrs = append(attrs, slog.Duration(QueueWaitKey, ci.QueueWait()))
			}
			if err != nil {
				attrs = append(attrs, slog.String(ErrorKey, err.Error()))
			}
			l.LogAttrs(ctx, level, "mqrpc: handled", attrs...)
		}
		// The server turns a panic into Internal after the interceptors
		// have unwound, and logs it with its stack; this records the call.
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
