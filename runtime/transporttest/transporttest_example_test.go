package transporttest_test

import (
	"testing"
	"time"

	"github.com/mqrpc/mqrpc/runtime"
	"github.com/mqrpc/mqrpc/runtime/memtransport"
	"github.com/mqrpc/mqrpc/runtime/transporttest"
)

// A transport's author runs the suite from a test in the transport's
// package (func TestConformance(t *testing.T) in a _test.go file), with a
// function that connects a new transport to one broker that every
// transport of the run shares. The suite needs the test's *testing.T, so
// this example only compiles; memtransport's own test runs it this way.
func ExampleRun() {
	testConformance := func(t *testing.T) {
		broker := memtransport.NewBroker()
		transporttest.Run(t, transporttest.Config{
			NewTransport: func(testing.TB) runtime.Transport { return broker.NewTransport() },
			// A transport over a real broker may need fewer concurrent
			// calls and more room past a deadline on a loaded machine.
			Calls: 1000,
			Slack: time.Second,
		})
	}
	_ = testConformance
}
