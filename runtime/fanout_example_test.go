package runtime_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/mqrpc/mqrpc/runtime"
	"github.com/mqrpc/mqrpc/runtime/memtransport"
)

// A fan-out call reaches every server started WithFanoutCalls; each reply
// names its server. Generated fan-out clients (New<Service>FanoutClient)
// make the same call with typed arguments.
func ExampleFanout() {
	broker := memtransport.NewBroker()
	desc := &runtime.ServiceDesc{ServiceName: "cache.Cache", Methods: []runtime.MethodDesc{{
		Name:    "Invalidate",
		NewArgs: func() any { return new(string) },
		Call: func(_ context.Context, impl any, key any) (any, error) {
			return impl.(string) + " dropped " + *key.(*string), nil
		},
	}}}
	for _, id := range []string{"cache-1", "cache-2", "cache-3"} {
		tr := broker.NewTransport()
		defer tr.Close()
		srv := runtime.NewServer(tr, runtime.WithFanoutCalls(), runtime.WithInstanceID(id))
		_ = srv.RegisterService(desc, id)
		_ = srv.Start()
		defer srv.Stop()
	}
	tr := broker.NewTransport()
	defer tr.Close()
	client, _ := runtime.NewClient(tr)
	defer client.Close()

	key := "user:42"
	replies, err := runtime.Fanout(context.Background(), client, "/cache.Cache/Invalidate", &key,
		func(s *string) string { return *s }, runtime.WithTimeout(5*time.Second))
	if err != nil {
		fmt.Println("no server answered:", err)
		return
	}
	var lines []string
	for _, r := range replies {
		lines = append(lines, fmt.Sprintf("%s: %s %v", r.Instance, r.Value, r.Err))
	}
	slices.Sort(lines) // replies come in the order the servers answered
	fmt.Println(strings.Join(lines, "\n"))
	// Output:
	// cache-1: cache-1 dropped user:42 <nil>
	// cache-2: cache-2 dropped user:42 <nil>
	// cache-3: cache-3 dropped user:42 <nil>
}
