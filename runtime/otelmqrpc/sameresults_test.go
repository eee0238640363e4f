package otelmqrpc_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"sync"
	"testing"

	"github.com/mqrpc/mqrpc/examples/calculator/calculator"
	"github.com/mqrpc/mqrpc/runtime"
	"github.com/mqrpc/mqrpc/runtime/otelmqrpc"
	"github.com/mqrpc/mqrpc/runtime/slogmqrpc"
)

// TestInterceptorsDoNotChangeResults makes the same calls through a plain
// client and server and through ones that trace, measure and log every
// call, and checks that callers see the same results and errors, and
// handlers the same metadata (besides the trace context).
func TestInterceptorsDoNotChangeResults(t *testing.T) {
	type outcome struct {
		results  []string
		metadata []runtime.Metadata
	}
	run := func(t *testing.T, instrument bool) outcome {
		var (
			mu   sync.Mutex
			seen []runtime.Metadata
		)
		// The innermost server interceptor: it sees what the handler sees.
		record := func(ctx context.Context, args any, info *runtime.UnaryServerInfo, handler runtime.UnaryHandler) (any, error) {
			md := runtime.IncomingMetadata(ctx).Clone()
			maps.DeleteFunc(md, func(k, _ string) bool { return k == "traceparent" || k == "tracestate" })
			mu.Lock()
			seen = append(seen, md)
			mu.Unlock()
			return handler(ctx, args)
		}
		var copts []runtime.ClientOption
		sics := []runtime.UnaryServerInterceptor{record}
		if instrument {
			tel := newTelemetry(t)
			log := slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelDebug}))
			copts = append(copts, runtime.WithClientInterceptors(otelmqrpc.ClientInterceptor(tel.options()...), slogmqrpc.ClientInterceptor(log)))
			sics = []runtime.UnaryServerInterceptor{otelmqrpc.ServerInterceptor(tel.options()...), slogmqrpc.ServerInterceptor(log), record}
		}
		calc := newCalculator(t, memEndpoints(t), "same_results", copts, runtime.WithServerInterceptors(sics...))

		ctx := runtime.AppendOutgoingMetadata(context.Background(), "tenant", "acme", "request-id", "r-1")
		var out outcome
		say := func(format string, args ...any) { out.results = append(out.results, fmt.Sprintf(format, args...)) }
		sum, err := calc.Add(ctx, 2, 3)
		say("Add: %d %v", sum, err)
		q, r, err := calc.Div(ctx, 7, 2)
		say("Div: %d %d %v", q, r, err)
		q, r, err = calc.Div(ctx, 7, 0)
		say("Div by zero: %d %d %v code=%v", q, r, err, runtime.CodeOf(err))
		s, err := calc.Stats(ctx, calculator.Series{Name: "s", Values: []float64{1.5, -2, 4}})
		say("Stats: %+v %v", s, err)
		mu.Lock()
		out.metadata = seen
		mu.Unlock()
		return out
	}
	plain, instrumented := run(t, false), run(t, true)
	t.Logf("results: %q", plain.results)
	if fmt.Sprint(plain.results) != fmt.Sprint(instrumented.results) {
		t.Errorf("results differ\nplain:        %q\ninstrumented: %q", plain.results, instrumented.results)
	}
	if fmt.Sprint(plain.metadata) != fmt.Sprint(instrumented.metadata) {
		t.Errorf("handlers saw different metadata\nplain:        %v\ninstrumented: %v", plain.metadata, instrumented.metadata)
	}
	if len(plain.metadata) != 4 || plain.metadata[0].Get("tenant") != "acme" {
		t.Errorf("handlers saw %v, want the caller's metadata on each of 4 calls", plain.metadata)
	}
}
