package runtime_test

import (
	"context"
	"fmt"
	"log"

	"github.com/mqrpc/mqrpc/internal/testservice"
	"github.com/mqrpc/mqrpc/runtime"
	"github.com/mqrpc/mqrpc/runtime/memtransport"
)

// Interceptors wrap every call: a client interceptor around sending and
// waiting, a server interceptor around the handler, after the arguments
// are decoded. Here the client's adds a token to the call's metadata, and
// the server's refuses calls without it.
func ExampleWithClientInterceptors() {
	withToken := func(ctx context.Context, method string, args, results any, invoke runtime.Invoker) error {
		ctx = runtime.AppendOutgoingMetadata(ctx, "authorization", "secret")
		err := invoke(ctx, method, args, results)
		fmt.Printf("client: %s: %v\n", method, runtime.CodeOf(err))
		return err
	}
	requireToken := func(ctx context.Context, args any, info *runtime.UnaryServerInfo, handler runtime.UnaryHandler) (any, error) {
		if runtime.IncomingMetadata(ctx).Get("authorization") != "secret" {
			return nil, runtime.Errorf(runtime.Unauthenticated, "%s needs a token", info.FullMethod)
		}
		return handler(ctx, args)
	}

	// One broker, and a transport for each of the three parties, as if they
	// were three processes: a transport delivers replies to one client.
	broker := memtransport.NewBroker()
	serverTr, clientTr, bareTr := broker.NewTransport(), broker.NewTransport(), broker.NewTransport()
	defer serverTr.Close()
	defer clientTr.Close()
	defer bareTr.Close()
	srv := runtime.NewServer(serverTr, runtime.WithServerInterceptors(requireToken))
	if err := testservice.RegisterProbe(srv, testservice.Server{}); err != nil {
		log.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		log.Fatal(err)
	}
	defer srv.GracefulStop()

	client, err := runtime.NewClient(clientTr, runtime.WithClientInterceptors(withToken))
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	s, err := testservice.NewProbeClient(client).Echo(context.Background(), "hi")
	fmt.Println(s, err)

	bare, err := runtime.NewClient(bareTr)
	if err != nil {
		log.Fatal(err)
	}
	defer bare.Close()
	_, err = testservice.NewProbeClient(bare).Echo(context.Background(), "hi")
	fmt.Println(err)
	// Output:
	// client: /testservice.Probe/Echo: ok
	// hi <nil>
	// unauthenticated: /testservice.Probe/Echo needs a token
}
