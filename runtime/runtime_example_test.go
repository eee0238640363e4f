package runtime_test

import (
	"context"
	"fmt"
	"log"

	"github.com/mqrpc/mqrpc/internal/testservice"
	"github.com/mqrpc/mqrpc/runtime"
	"github.com/mqrpc/mqrpc/runtime/memtransport"
)

// A server and a client of a generated service, over the in-process
// transport. With runtime/rocketmq instead, the server and the client
// would be two processes that share only the broker.
func Example() {
	tr := memtransport.New()
	defer tr.Close()

	srv := runtime.NewServer(tr)
	if err := testservice.RegisterProbe(srv, testservice.Server{}); err != nil {
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

	probe := testservice.NewProbeClient(client)
	s, err := probe.Echo(context.Background(), "hello")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(s)
	// Output: hello
}

// Invoke is what a generated client method does: the arguments and results
// travel as msgpack arrays, here built from anonymous structs tagged the
// way generated code tags its own.
func ExampleClient_Invoke() {
	tr := memtransport.New()
	defer tr.Close()
	srv := runtime.NewServer(tr)
	if err := testservice.RegisterProbe(srv, testservice.Server{}); err != nil {
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

	args := struct {
		_msgpack struct{} `msgpack:",as_array"`
		B        []byte
	}{B: []byte("four")}
	var results struct {
		_msgpack struct{} `msgpack:",as_array"`
		N        int
	}
	err = client.Invoke(context.Background(), testservice.Probe_Blob_FullMethodName, &args, &results)
	fmt.Println(results.N, err)
	// Output: 4 <nil>
}
