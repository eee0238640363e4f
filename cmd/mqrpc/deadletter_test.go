package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mqrpc/mqrpc/examples/calculator/calculator"
	"github.com/mqrpc/mqrpc/runtime"
	"github.com/mqrpc/mqrpc/runtime/rocketmq"
	"github.com/mqrpc/mqrpc/runtime/rocketmq/rocketmqtest"
)

// claimedByTheDead is a DedupStore in which every call id but the first
// (the command's describe call) is claimed by a server that died running
// it: servers dead-letter those requests.
type claimedByTheDead struct{ claims atomic.Int64 }

func (c *claimedByTheDead) Claim(context.Context, string, time.Time) (runtime.ClaimState, error) {
	if c.claims.Add(1) == 1 {
		return runtime.ClaimNew, nil
	}
	return runtime.ClaimTaken, nil
}

func (*claimedByTheDead) Finish(context.Context, string, time.Time) error { return nil }

// find shows a dead-lettered call as such: no reply, and where the request
// went.
func TestFindShowsADeadLetteredCall(t *testing.T) {
	ns := rocketmqtest.NameServer(t)
	topic := fmt.Sprintf("mqrpccli_dead_%d", time.Now().UnixNano())
	tr, err := rocketmq.New(rocketmq.Config{NameServers: []string{ns}})
	if err != nil {
		t.Fatal(err)
	}
	srv := runtime.NewServer(tr, runtime.WithServiceTopic(calculator.CalculatorServiceName, topic), runtime.WithDedupStore(new(claimedByTheDead)))
	if err := calculator.RegisterCalculator(srv, calculator.Server{}); err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.GracefulStop(); _ = tr.Close() })

	code, _, errOut := mqrpc(t, "call", "-namesrv", ns, "-topic", topic, "-timeout", "2s", "calculator.Calculator/Add", "[1,2]")
	if code == exitOK || !strings.Contains(errOut, "deadline_exceeded") {
		t.Fatalf("dead-lettered call: exit %d, stderr %s; want deadline_exceeded", code, errOut)
	}
	id := callIDOf(t, errOut)
	var f found
	var out string
	for end := time.Now().Add(30 * time.Second); ; {
		var c int
		c, out, errOut = mqrpc(t, "find", "-o", "json", "-namesrv", ns, "-topic", topic, "-since", "5m", id)
		if c != exitOK {
			t.Fatalf("find: exit %d, stderr %s", c, errOut)
		}
		if err := json.Unmarshal([]byte(out), &f); err != nil {
			t.Fatalf("find: %v\n%s", err, out)
		}
		if f.DeadLetter != nil || time.Now().After(end) {
			break
		}
	}
	if f.DeadLetter == nil || f.DeadLetter.Topic != rocketmq.DeadLetterTopic(runtime.GroupFor(topic)) || f.Reply != nil {
		t.Fatalf("find of a dead-lettered call: %s", out)
	}
	if last := f.Timeline[len(f.Timeline)-1]; last.What != evDeadLettered {
		t.Errorf("time line ends with %q, want %q", last.What, evDeadLettered)
	}
	code, out, _ = mqrpc(t, "find", "-namesrv", ns, "-topic", topic, "-since", "5m", id)
	if code != exitOK || !hasLineWith(out, "status", "none (dead-lettered)") || !hasLineWith(out, "dead-lettered: in", f.DeadLetter.Topic) {
		t.Errorf("find text of a dead-lettered call: exit %d\n%s", code, out)
	}
}
