package slogmqrpc_test

import (
	"context"
	"log"
	"log/slog"
	"os"

	"github.com/mqrpc/mqrpc/internal/testservice"
	"github.com/mqrpc/mqrpc/runtime"
	"github.com/mqrpc/mqrpc/runtime/memtransport"
	"github.com/mqrpc/mqrpc/runtime/slogmqrpc"
)

// One record per call on each side. The handler here leaves out what
// changes from run to run (the time, the call id and the durations) so
// that the output can be checked; a real one keeps them.
func Example() {
	logger := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		Level: slog.LevelDebug, // successful calls are logged at Debug
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			switch a.Key {
			case slog.TimeKey, slogmqrpc.CallIDKey, slogmqrpc.DurationKey, slogmqrpc.QueueWaitKey, slogmqrpc.ReplyTransitKey:
				return slog.Attr{}
			}
			return a
		},
	}))

	tr := memtransport.New()
	defer tr.Close()
	srv := runtime.NewServer(tr, runtime.WithServerInterceptors(slogmqrpc.ServerInterceptor(logger)))
	if err := testservice.RegisterProbe(srv, testservice.Server{}); err != nil {
		log.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		log.Fatal(err)
	}
	defer srv.GracefulStop()
	client, err := runtime.NewClient(tr, runtime.WithClientInterceptors(slogmqrpc.ClientInterceptor(logger)))
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()

	if _, err := testservice.NewProbeClient(client).Echo(context.Background(), "logged"); err != nil {
		log.Fatal(err)
	}
	// Output:
	// level=DEBUG msg="mqrpc: handled" method=/testservice.Probe/Echo code=ok
	// level=DEBUG msg="mqrpc: call" method=/testservice.Probe/Echo code=ok
}
