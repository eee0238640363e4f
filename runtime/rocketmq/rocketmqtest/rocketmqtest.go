// Package rocketmqtest helps tests that run against a real RocketMQ broker.
package rocketmqtest

import (
	"os"
	"testing"

	"go.uber.org/goleak"

	"github.com/mqrpc/mqrpc/internal/testenv"
)

// NameServer returns the address of the test broker's name server from
// MQRPC_NAMESRV (`make broker-up` starts one on 127.0.0.1:9876). Without it
// the test is skipped, except under CI=true, where it fails: CI must run
// the broker tests.
func NameServer(t testing.TB) string {
	t.Helper()
	addr := os.Getenv("MQRPC_NAMESRV")
	if addr == "" {
		testenv.Missing(t, "MQRPC_NAMESRV is not set; run `make broker-up` and export MQRPC_NAMESRV=127.0.0.1:9876 (make test does both)")
	}
	return addr
}

// IgnoreLibraryGoroutines lists goroutines of rocketmq-client-go that
// outlive a closed transport, for goleak:
//
//	goleak.VerifyTestMain(m, rocketmqtest.IgnoreLibraryGoroutines()...)
//
// None of them can be stopped from outside the library, and each ends by
// itself: the client's loops and a push consumer's expiry loop sleep up to
// a consume timeout before they first look at their stop signal, a
// consumer's statistics loops sleep until the next minute, hour or day
// boundary, and a long-polling pull waits out its 30 s timeout after its
// connection is closed. The library also starts one cache janitor per
// process when it is loaded. None of them holds a connection.
func IgnoreLibraryGoroutines() []goleak.Option {
	const lib = "github.com/apache/rocketmq-client-go/v2/"
	opts := []goleak.Option{
		goleak.IgnoreTopFunction("github.com/patrickmn/go-cache.(*janitor).Run"),
		goleak.IgnoreAnyFunction(lib + "consumer.(*pushConsumer).Start.func1.2"),
		goleak.IgnoreAnyFunction(lib + "consumer.(*pushConsumer).pullMessage"),
		// A rebalance the broker triggers while a consumer shuts down can
		// block for good on the consumer's closed pull loop; Subscription.Stop
		// waits for rebalances first, but one may still start in between.
		goleak.IgnoreAnyFunction(lib + "consumer.(*defaultConsumer).updateProcessQueueTable"),
		// An orderly consumer's loop over one queue looks at its stop
		// signal only between two waits for messages, which last up to 5 s.
		goleak.IgnoreAnyFunction(lib + "consumer.(*pushConsumer).pullMessage.func1"),
	}
	for _, f := range []string{"1", "2", "3", "4"} {
		opts = append(opts, goleak.IgnoreAnyFunction(lib+"internal.(*rmqClient).Start.func1."+f))
	}
	for _, f := range []string{"4", "5", "6"} {
		opts = append(opts, goleak.IgnoreAnyFunction(lib+"consumer.(*statsItemSet).init.func"+f))
	}
	return opts
}
