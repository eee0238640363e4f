package rocketmq_test

import (
	"testing"
	"time"

	"github.com/mqrpc/mqrpc/runtime"
	"github.com/mqrpc/mqrpc/runtime/rocketmq"
	"github.com/mqrpc/mqrpc/runtime/rocketmq/rocketmqtest"
	"github.com/mqrpc/mqrpc/runtime/transporttest"
)

// TestFanoutCalls needs MQRPC_NAMESRV (a cluster of two brokers, as
// tools/rocketmq/broker.sh up --second starts, has each server heartbeat
// to both).
func TestFanoutCalls(t *testing.T) {
	addr := rocketmqtest.NameServer(t)
	// A server's instance id is its transport's client id, which the
	// brokers list among the consumers of its groups (mqrpc list -v).
	tr := newTransport(t, rocketmq.Config{NameServers: []string{addr}})
	t.Cleanup(func() { _ = tr.Close() })
	if got, want := runtime.NewServer(tr).InstanceID(), tr.ClientID(); got != want || got == "" {
		t.Fatalf("InstanceID() = %q, want the client id %q", got, want)
	}
	if got := runtime.NewServer(tr, runtime.WithInstanceID("x")).InstanceID(); got != "x" {
		t.Fatalf("InstanceID() with WithInstanceID(x) = %q", got)
	}
	transporttest.RunFanout(t, transporttest.Config{
		NewTransport: func(t testing.TB) runtime.Transport {
			return newTransport(t, rocketmq.Config{NameServers: []string{addr}})
		},
		Slack:    250 * time.Millisecond,
		Patience: 120 * time.Second,
	})
}
