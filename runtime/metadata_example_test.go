package runtime_test

import (
	"context"
	"fmt"
	"log"

	"github.com/mqrpc/mqrpc/internal/testservice"
	"github.com/mqrpc/mqrpc/runtime"
	"github.com/mqrpc/mqrpc/runtime/memtransport"
)

// tenantEcho is a Probe whose Echo reads the caller's metadata and sets a
// trailer.
type tenantEcho struct{ testservice.Server }

func (tenantEcho) Echo(ctx context.Context, s string) (string, error) {
	tenant := runtime.IncomingMetadata(ctx).Get("tenant")
	runtime.SetTrailer(ctx, "served-for", tenant)
	return s + " from " + tenant, nil
}

// Metadata goes out with the call's context and comes back as the
// trailer. Keys are case-insensitive and travel in lower case.
func ExampleAppendOutgoingMetadata() {
	tr := memtransport.New()
	defer tr.Close()
	srv := runtime.NewServer(tr)
	if err := testservice.RegisterProbe(srv, tenantEcho{}); err != nil {
		log.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		log.Fatal(err)
	}
	defer srv.GracefulStop()
	client, err := runtime.NewClient(tr)
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()

	ctx := runtime.AppendOutgoingMetadata(context.Background(), "Tenant", "acme")
	// Generated clients take call options when they are made; Invoke
	// takes them per call.
	var trailer runtime.Metadata
	probe := testservice.NewProbeClient(client, runtime.Trailer(&trailer))
	s, err := probe.Echo(ctx, "hello")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(s)
	fmt.Println(trailer)
	// Output:
	// hello from acme
	// map[served-for:acme]
}
