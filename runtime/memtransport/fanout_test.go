package memtransport_test

import (
	"testing"

	"github.com/mqrpc/mqrpc/runtime"
	"github.com/mqrpc/mqrpc/runtime/memtransport"
	"github.com/mqrpc/mqrpc/runtime/transporttest"
)

func TestFanoutCalls(t *testing.T) {
	broker := memtransport.NewBroker()
	transporttest.RunFanout(t, transporttest.Config{
		NewTransport: func(testing.TB) runtime.Transport { return broker.NewTransport() },
	})
}
