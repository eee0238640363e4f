//go:build !race

// rocketmq-client-go's orderly consumer reads a queue's message cache
// without the lock that its pulls write it under (consumer/process_queue.go,
// takeMessages), and its queue-lock retries read the client's closed flag
// while a shutdown writes it: data races in the library that the race
// detector reports in most runs. `make test` runs these tests without
// -race (the Makefile's norace target). Servers started without
// runtime.WithOrderedCalls start no orderly consumer and are not affected.

package rocketmq_test

import (
	"testing"
	"time"

	"github.com/mqrpc/mqrpc/runtime"
	"github.com/mqrpc/mqrpc/runtime/rocketmq"
	"github.com/mqrpc/mqrpc/runtime/rocketmq/rocketmqtest"
	"github.com/mqrpc/mqrpc/runtime/transporttest"
)

// TestOrderedCalls needs MQRPC_NAMESRV (a cluster of two brokers, as
// tools/rocketmq/broker.sh up --second starts, spreads each ordered topic's
// queues over both).
func TestOrderedCalls(t *testing.T) {
	addr := rocketmqtest.NameServer(t)
	transporttest.RunOrdered(t, transporttest.Config{
		NewTransport: func(t testing.TB) runtime.Transport {
			return newTransport(t, rocketmq.Config{NameServers: []string{addr}})
		},
		Slack:    250 * time.Millisecond,
		Patience: 120 * time.Second,
	})
}

// BenchmarkOrdered needs MQRPC_NAMESRV.
func BenchmarkOrdered(b *testing.B) {
	addr := rocketmqtest.NameServer(b)
	transporttest.BenchmarkOrdered(b, func(t testing.TB) runtime.Transport {
		return newTransport(t, rocketmq.Config{NameServers: []string{addr}})
	})
}
