package main_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/mqrpc/mqrpc/internal/testservice"
	"github.com/mqrpc/mqrpc/runtime"
	"github.com/mqrpc/mqrpc/runtime/rocketmq"
	"github.com/mqrpc/mqrpc/runtime/rocketmq/rocketmqtest"
)

// Three server processes answer fan-out calls; one is SIGKILLed. The next
// fan-out call gets the replies of the two others and ends as soon as they
// have answered, long before its deadline: the broker drops a killed
// process from the group when its connection closes. Needs MQRPC_NAMESRV.
func TestFanoutCallAfterServerKill(t *testing.T) {
	ns := rocketmqtest.NameServer(t)
	topic := fmt.Sprintf("probe_fanout_kill_%d", time.Now().UnixNano())
	bin := buildProbeServer(t)
	var servers []*probeServer
	for range 3 {
		servers = append(servers, runProbeServer(t, bin, "-namesrv", ns, "-topic", topic, "-fanout"))
	}
	tr, err := rocketmq.New(rocketmq.Config{NameServers: []string{ns}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tr.Close() })
	client, err := runtime.NewClient(tr, runtime.WithCallOptions(runtime.WithTopic(topic)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Close() })
	all := testservice.NewProbeFanoutClient(client, runtime.WithTimeout(2*time.Second))

	// Each server takes the fan-out calls sent after its consumer has
	// started pulling: wait until all three answer.
	var ids []string
	deadline := time.Now().Add(60 * time.Second)
	for len(ids) != 3 {
		if time.Now().After(deadline) {
			t.Fatalf("three servers never all answered a fan-out call; last answers from %v", ids)
		}
		rs, _ := all.Echo(context.Background(), "ready")
		ids = ids[:0]
		for _, r := range rs {
			ids = append(ids, r.Instance)
		}
	}

	servers[0].kill(t)
	timeout := 20 * time.Second
	start := time.Now()
	rs, err := testservice.NewProbeFanoutClient(client, runtime.WithTimeout(timeout)).Echo(context.Background(), "after")
	took := time.Since(start)
	if err != nil {
		t.Fatalf("fan-out call after the kill: %v", err)
	}
	var got []string
	for _, r := range rs {
		if r.Err != nil || r.Value != "after" {
			t.Errorf("reply of %s: %q, %v", r.Instance, r.Value, r.Err)
		}
		got = append(got, r.Instance)
	}
	slices.Sort(got)
	slices.Sort(ids)
	if len(got) != 2 || !slices.Contains(ids, got[0]) || !slices.Contains(ids, got[1]) || got[0] == got[1] {
		t.Fatalf("replies from %v, want two of %v", got, ids)
	}
	if took > timeout/4 {
		t.Fatalf("the call took %v of its %v deadline: it should end when the live servers have answered", took, timeout)
	}
	t.Logf("fan-out call after the kill: %d replies in %v", len(rs), took)
	if n := client.Stats().Pending; n != 0 {
		t.Errorf("Pending = %d after the calls, want 0", n)
	}
}
