package otelmqrpc_test

import (
	"context"
	"fmt"
	"log"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/mqrpc/mqrpc/internal/testservice"
	"github.com/mqrpc/mqrpc/runtime"
	"github.com/mqrpc/mqrpc/runtime/memtransport"
	"github.com/mqrpc/mqrpc/runtime/otelmqrpc"
)

// The client's span and the server's span of one call share a trace: the
// client carries its span's context to the server in the call's metadata.
// A span recorder stands in for an exporter here; without
// WithTracerProvider the interceptors use the global provider.
func Example() {
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	defer tp.Shutdown(context.Background())

	tr := memtransport.New()
	defer tr.Close()
	srv := runtime.NewServer(tr, runtime.WithServerInterceptors(
		otelmqrpc.ServerInterceptor(otelmqrpc.WithTracerProvider(tp))))
	if err := testservice.RegisterProbe(srv, testservice.Server{}); err != nil {
		log.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		log.Fatal(err)
	}
	defer srv.GracefulStop()
	client, err := runtime.NewClient(tr, runtime.WithClientInterceptors(
		otelmqrpc.ClientInterceptor(otelmqrpc.WithTracerProvider(tp))))
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()

	if _, err := testservice.NewProbeClient(client).Echo(context.Background(), "traced"); err != nil {
		log.Fatal(err)
	}
	ended := spans.Ended() // the server's span ends before its reply is sent
	for _, s := range ended {
		fmt.Println(s.SpanKind(), s.Name())
	}
	server, caller := ended[0], ended[1]
	fmt.Println("server span's parent is the client's span:", server.Parent().SpanID() == caller.SpanContext().SpanID())
	// Output:
	// server testservice.Probe/Echo
	// client testservice.Probe/Echo
	// server span's parent is the client's span: true
}
