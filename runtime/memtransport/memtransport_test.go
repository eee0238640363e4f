package memtransport_test

import (
	"fmt"
	"testing"
	"time"

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
// call ids of one copy must never reach another. Three suites' load tests
// at once keep every core busy, so the copies' deadline bounds are looser
// than the single run's (TestConformance keeps the default 250 ms): here
// the point is isolation, not timing.
func TestConformanceManyAtOnce(t *testing.T) {
	broker := memtransport.NewBroker()
	for i := range 3 {
		t.Run(fmt.Sprint("copy", i), func(t *testing.T) {
			t.Parallel()
			transporttest.Run(t, transporttest.Config{
				NewTransport: func(testing.TB) runtime.Transport { return broker.NewTransport() },
				Calls:        2_000,
				Slack:        2 * time.Second,
			})
		})
	}
}
