package transporttest

import (
	"context"
	"crypto/rand"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/mqrpc/mqrpc/runtime"
)

// BenchmarkOrdered measures calls through one client to one server
// started WithOrderedCalls, side by side: unordered calls, and ordered
// calls spread over 20 order keys. Both make 64 calls at once per
// GOMAXPROCS, so that the ordered calls queue behind each other as they
// would under load; the handler does nothing.
func BenchmarkOrdered(b *testing.B, newTransport func(testing.TB) runtime.Transport) {
	const keys = 20
	topic := runtime.TopicFor(fmt.Sprintf("mqrpcbench.Ordered.%d", rand64()))
	st := newTransport(b)
	defer st.Close()
	srv := runtime.NewServer(st, runtime.WithServiceTopic(seqService, topic), runtime.WithOrderedCalls())
	if err := srv.RegisterService(&seqDesc, newSeqServer()); err != nil {
		b.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		b.Fatal(err)
	}
	defer srv.Stop()
	ct := newTransport(b)
	defer ct.Close()
	client, err := runtime.NewClient(ct, runtime.WithCallOptions(runtime.WithTopic(topic)))
	if err != nil {
		b.Fatal(err)
	}
	defer client.Close()
	method := runtime.FullMethodName(seqService, "Step")
	// Warm up both paths: routes, consumers' first pulls.
	for k := range keys {
		if err := client.Invoke(context.Background(), method, &stepArgs{}, nil, runtime.WithOrderKey(fmt.Sprint("key-", k))); err != nil {
			b.Fatal(err)
		}
	}
	for _, bc := range []struct {
		name    string
		ordered bool
	}{{"unordered", false}, {"ordered-20keys", true}} {
		b.Run(bc.name, func(b *testing.B) {
			var worker atomic.Int64
			b.SetParallelism(64)
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				var opts []runtime.CallOption
				if bc.ordered {
					opts = append(opts, runtime.WithOrderKey(fmt.Sprint("key-", worker.Add(1)%keys)))
				}
				for pb.Next() {
					if err := client.Invoke(context.Background(), method, &stepArgs{}, nil, opts...); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

func rand64() uint64 {
	var b [8]byte
	_, _ = rand.Read(b[:])
	var v uint64
	for _, x := range b {
		v = v<<8 | uint64(x)
	}
	return v
}
