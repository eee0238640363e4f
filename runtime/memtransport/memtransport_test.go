package memtransport_test

import (
	"fmt"
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

// TestConformanceManyAtOnce runs several copies of the suite at the same
// time on one broker, as watermill's pub/sub tests do: topics, groups and
// call ids of one copy must never reach another, and timing bounds must
// hold while the broker is busy with all of them.
func TestConformanceManyAtOnce(t *testing.T) {
	broker := memtransport.NewBroker()
	for i := range 3 {
		t.Run(fmt.Sprint("copy", i), func(t *testing.T) {
			t.Parallel()
			transporttest.Run(t, transporttest.Config{
				NewTransport: func(testing.TB) runtime.Transport { return broker.NewTransport() },
				Calls:        2_000,
			})
		})
	}
}
