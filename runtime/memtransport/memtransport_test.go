package memtransport_test

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/mqrpc/mqrpc/runtime"
	"github.com/mqrpc/mqrpc/runtime/memtransport"
	"github.com/mqrpc/mqrpc/runtime/transporttest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestConformance(t *testing.T) {
	broker := memtransport.NewBroker()
	transporttest.Run(t, transporttest.Config{
		NewTransport: func(testing.TB) runtime.Transport { return broker.NewTransport() },
	})
}
