package memtransport_test

import (
	"testing"

	"github.com/mqrpc/mqrpc/runtime"
	"github.com/mqrpc/mqrpc/runtime/memtransport"
	"github.com/mqrpc/mqrpc/runtime/transporttest"
)

func TestOrderedCalls(t *testing.T) {
	broker := memtransport.NewBroker()
	transporttest.RunOrdered(t, transporttest.Config{
		NewTransport: func(testing.TB) runtime.Transport { return broker.NewTransport() },
	})
}

func BenchmarkOrdered(b *testing.B) {
	broker := memtransport.NewBroker()
	transporttest.BenchmarkOrdered(b, func(testing.TB) runtime.Transport { return broker.NewTransport() })
}
