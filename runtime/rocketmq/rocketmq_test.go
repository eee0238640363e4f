package rocketmq_test

import (
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/mqrpc/mqrpc/runtime"
	"github.com/mqrpc/mqrpc/runtime/rocketmq"
	"github.com/mqrpc/mqrpc/runtime/rocketmq/rocketmqtest"
	"github.com/mqrpc/mqrpc/runtime/transporttest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, rocketmqtest.IgnoreLibraryGoroutines()...)
}

func newTransport(t testing.TB, cfg rocketmq.Config) *rocketmq.Transport {
	t.Helper()
	if len(cfg.NameServers) == 0 {
		cfg.NameServers = []string{rocketmqtest.NameServer(t)}
	}
	tr, err := rocketmq.New(cfg)
	if err != nil {
		t.Fatalf("rocketmq.New: %v", err)
	}
	return tr
}

func TestConformance(t *testing.T) {
	addr := rocketmqtest.NameServer(t)
	transporttest.Run(t, transporttest.Config{
		NewTransport: func(t testing.TB) runtime.Transport {
			return newTransport(t, rocketmq.Config{NameServers: []string{addr}})
		},
		Calls:    2_000,
		Slack:    250 * time.Millisecond,
		Patience: 60 * time.Second,
	})
}

// With a single sender every send waits for the one before it; the suite's
// concurrent calls and replies must still all get through.
func TestConformanceOneSender(t *testing.T) {
	addr := rocketmqtest.NameServer(t)
	transporttest.Run(t, transporttest.Config{
		NewTransport: func(t testing.TB) runtime.Transport {
			return newTransport(t, rocketmq.Config{NameServers: []string{addr}, SendGoroutines: 1})
		},
		Calls:    200,
		Slack:    250 * time.Millisecond,
		Patience: 60 * time.Second,
	})
}
