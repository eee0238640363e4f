package slogmqrpc_test

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/mqrpc/mqrpc/examples/calculator/calculator"
	"github.com/mqrpc/mqrpc/runtime"
	"github.com/mqrpc/mqrpc/runtime/memtransport"
	"github.com/mqrpc/mqrpc/runtime/slogmqrpc"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// recorder is a slog.Handler that keeps the records at or above its level.
type recorder struct {
	level slog.Level
	mu    sync.Mutex
	recs  []slog.Record
}

func (r *recorder) Enabled(_ context.Context, l slog.Level) bool { return l >= r.level }
func (r *recorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.recs = append(r.recs, rec.Clone())
	return nil
}
func (r *recorder) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *recorder) WithGroup(string) slog.Handler      { return r }

// take returns the records so far, by message, and forgets them.
func (r *recorder) take() map[string][]slog.Record {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string][]slog.Record)
	for _, rec := range r.recs {
		out[rec.Message] = append(out[rec.Message], rec)
	}
	r.recs = nil
	return out
}

func attrs(rec slog.Record) map[string]slog.Value {
	m := make(map[string]slog.Value)
	rec.Attrs(func(a slog.Attr) bool { m[a.Key] = a.Value; return true })
	return m
}

// newCalculator serves the example calculator with both interceptors
// logging to rec. An extra server interceptor makes Mul panic.
func newCalculator(t *testing.T, rec *recorder, opts ...slogmqrpc.Option) *calculator.CalculatorClient {
	t.Helper()
	l := slog.New(rec)
	panicky := func(ctx context.Context, args any, info *runtime.UnaryServerInfo, handler runtime.UnaryHandler) (any, error) {
		if info.FullMethod == calculator.Calculator_Mul_FullMethodName {
			panic("boom")
		}
		return handler(ctx, args)
	}
	broker := memtransport.NewBroker()
	st, ct := broker.NewTransport(), broker.NewTransport()
	srv := runtime.NewServer(st, runtime.WithServerInterceptors(slogmqrpc.ServerInterceptor(l, opts...), panicky))
	if err := calculator.RegisterCalculator(srv, calculator.Server{}); err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	client, err := runtime.NewClient(ct, runtime.WithClientInterceptors(slogmqrpc.ClientInterceptor(l, opts...)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = client.Close()
		srv.GracefulStop()
		_ = ct.Close()
		_ = st.Close()
	})
	return calculator.NewCalculatorClient(client)
}

func TestEachCallIsLoggedOnBothSides(t *testing.T) {
	rec := &recorder{level: slog.LevelDebug}
	calc := newCalculator(t, rec)
	cases := []struct {
		name  string
		call  func() error
		code  string
		level slog.Level
	}{
		{"Add", func() error { _, err := calc.Add(t.Context(), 1, 2); return err }, "ok", slog.LevelDebug},
		{"Div", func() error { _, _, err := calc.Div(t.Context(), 1, 0); return err }, "invalid_argument", slog.LevelWarn},
		{"Mul", func() error { _, err := calc.Mul(t.Context(), 1, 2); return err }, "internal", slog.LevelError},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			start := time.Now()
			err := c.call()
			elapsed := time.Since(start)
			recs := rec.take()
			client, server := recs["mqrpc: call"], recs["mqrpc: handled"]
			if len(client) != 1 || len(server) != 1 {
				t.Fatalf("got records %v, want one client and one server record", recs)
			}
			ca, sa := attrs(client[0]), attrs(server[0])
			if id := ca[slogmqrpc.CallIDKey].String(); id == "" || id != sa[slogmqrpc.CallIDKey].String() {
				t.Errorf("call_id: client %q, server %q; want one call id", id, sa[slogmqrpc.CallIDKey])
			}
			for side, r := range map[string]slog.Record{"client": client[0], "server": server[0]} {
				a := attrs(r)
				if r.Level != c.level || a[slogmqrpc.CodeKey].String() != c.code {
					t.Errorf("%s record at %v with code %v, want %v and %s", side, r.Level, a[slogmqrpc.CodeKey], c.level, c.code)
				}
				if want := "/calculator.Calculator/" + c.name; a[slogmqrpc.MethodKey].String() != want {
					t.Errorf("%s record method %v, want %s", side, a[slogmqrpc.MethodKey], want)
				}
				if d := a[slogmqrpc.DurationKey]; d.Kind() != slog.KindDuration || d.Duration() <= 0 || d.Duration() > elapsed {
					t.Errorf("%s record duration %v, want within the call's %v", side, d, elapsed)
				}
				// The server's record of a panic cannot hold the panic's
				// value without recovering it; the server logs that.
				if e, ok := a[slogmqrpc.ErrorKey]; ok != (err != nil) || (ok && c.name != "Mul" && e.String() != err.Error()) {
					t.Errorf("%s record err = %v, want the call's error %v", side, e, err)
				}
			}
			if w := sa[slogmqrpc.QueueWaitKey]; w.Kind() != slog.KindDuration || w.Duration() < 0 || w.Duration() > elapsed {
				t.Errorf("server record queue_wait %v, want within the call's %v", w, elapsed)
			}
			if tr := ca[slogmqrpc.ReplyTransitKey]; tr.Kind() != slog.KindDuration || tr.Duration() < 0 || tr.Duration() > elapsed {
				t.Errorf("client record reply_transit %v, want within the call's %v", tr, elapsed)
			}
		})
	}
}

func TestSuccessfulCallsAreQuietAboveDebug(t *testing.T) {
	rec := &recorder{level: slog.LevelInfo}
	calc := newCalculator(t, rec)
	if _, err := calc.Add(t.Context(), 1, 2); err != nil {
		t.Fatal(err)
	}
	if _, _, err := calc.Div(t.Context(), 1, 0); err == nil {
		t.Fatal("Div(1, 0) succeeded")
	}
	recs := rec.take()
	if len(recs["mqrpc: call"]) != 1 || len(recs["mqrpc: handled"]) != 1 {
		t.Errorf("at Info: records %v, want only the failed call's two", recs)
	}
}

func TestWithLevels(t *testing.T) {
	rec := &recorder{level: slog.LevelInfo}
	calc := newCalculator(t, rec, slogmqrpc.WithLevels(func(runtime.Code) slog.Level { return slog.LevelInfo }))
	if _, err := calc.Add(t.Context(), 1, 2); err != nil {
		t.Fatal(err)
	}
	recs := rec.take()
	if c := recs["mqrpc: call"]; len(c) != 1 || c[0].Level != slog.LevelInfo {
		t.Errorf("records %v, want the call at Info", recs)
	}
}

func TestDefaultLevel(t *testing.T) {
	for code, want := range map[runtime.Code]slog.Level{
		runtime.OK:               slog.LevelDebug,
		runtime.InvalidArgument:  slog.LevelWarn,
		runtime.NotFound:         slog.LevelWarn,
		runtime.DeadlineExceeded: slog.LevelWarn,
		runtime.Canceled:         slog.LevelWarn,
		runtime.Unknown:          slog.LevelError,
		runtime.Internal:         slog.LevelError,
		runtime.Unavailable:      slog.LevelError,
		runtime.Unimplemented:    slog.LevelError,
		runtime.DataLoss:         slog.LevelError,
	} {
		if got := slogmqrpc.DefaultLevel(code); got != want {
			t.Errorf("DefaultLevel(%v) = %v, want %v", code, got, want)
		}
	}
}
