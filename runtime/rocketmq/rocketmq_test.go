package rocketmq_test

import (
	"os"
	"testing"
	"time"

	"github.com/mqrpc/mqrpc/runtime"
	"github.com/mqrpc/mqrpc/runtime/rocketmq"
	"github.com/mqrpc/mqrpc/runtime/transporttest"
)

// nameServer returns the address of the local broker's name server from
// MQRPC_NAMESRV. These tests need a real broker (`make broker-up`); under
// CI=true they fail rather than skip without one.
func nameServer(t testing.TB) string {
	t.Helper()
	addr := os.Getenv("MQRPC_NAMESRV")
	if addr == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("MQRPC_NAMESRV is not set: CI must run the RocketMQ tests against a broker (make test starts one)")
		}
		t.Skip("MQRPC_NAMESRV is not set; run `make broker-up` and export MQRPC_NAMESRV=127.0.0.1:9876")
	}
	return addr
}

func newTransport(t testing.TB, cfg rocketmq.Config) *rocketmq.Transport {
	t.Helper()
	if len(cfg.NameServers) == 0 {
		cfg.NameServers = []string{nameServer(t)}
	}
	tr, err := rocketmq.New(cfg)
	if err != nil {
		t.Fatalf("rocketmq.New: %v", err)
	}
	return tr
}

func TestConformance(t *testing.T) {
	addr := nameServer(t)
	transporttest.Run(t, transporttest.Config{
		NewTransport: func(t testing.TB) runtime.Transport {
			return newTransport(t, rocketmq.Config{NameServers: []string{addr}})
		},
		Calls:    2_000,
		Slack:    250 * time.Millisecond,
		Patience: 60 * time.Second,
	})
}
