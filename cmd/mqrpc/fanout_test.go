// The tests in this file need a RocketMQ broker: MQRPC_NAMESRV (see
// rocketmqtest.NameServer).
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mqrpc/mqrpc/examples/calcpb/calcv1"
	"github.com/mqrpc/mqrpc/runtime"
	"github.com/mqrpc/mqrpc/runtime/rocketmq"
	"github.com/mqrpc/mqrpc/runtime/rocketmq/rocketmqtest"
)

// startFanoutServers serves calc.v1.Calculator, answering fan-out calls,
// on n servers of one topic of its own, and waits until each answers a
// fan-out call. It returns the topic and the servers' instance ids.
func startFanoutServers(t *testing.T, ns string, n int) (topic string, ids []string) {
	t.Helper()
	topic = fmt.Sprintf("mqrpccli_%s_%d", strings.ReplaceAll(t.Name(), "/", "_"), time.Now().UnixNano())
	for i := range n {
		tr, err := rocketmq.New(rocketmq.Config{NameServers: []string{ns}})
		if err != nil {
			t.Fatal(err)
		}
		id := fmt.Sprintf("calc-%d", i)
		srv := runtime.NewServer(tr, runtime.WithServiceTopic(calcv1.CalculatorServiceName, topic), runtime.WithFanoutCalls(), runtime.WithInstanceID(id))
		if err := calcv1.RegisterCalculator(srv, calcv1.Server{}); err != nil {
			t.Fatal(err)
		}
		if err := srv.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { srv.GracefulStop(); _ = tr.Close() })
		ids = append(ids, id)
	}
	tr, err := rocketmq.New(rocketmq.Config{NameServers: []string{ns}})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	c, err := runtime.NewClient(tr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	calc := calcv1.NewCalculatorFanoutClient(c, runtime.WithTopic(topic), runtime.WithTimeout(2*time.Second))
	deadline := time.Now().Add(60 * time.Second)
	for {
		rs, _ := calc.Add(context.Background(), &calcv1.AddRequest{A: 1, B: 1})
		var got []string
		for _, r := range rs {
			got = append(got, r.Instance)
		}
		slices.Sort(got)
		if slices.Equal(got, ids) {
			return topic, ids
		}
		if time.Now().After(deadline) {
			t.Fatalf("servers %v never all answered a fan-out call; last answers from %v", ids, got)
		}
	}
}

func TestCallAllPrintsALinePerServer(t *testing.T) {
	ns := rocketmqtest.NameServer(t)
	topic, ids := startFanoutServers(t, ns, 2)
	base := []string{"call", "-namesrv", ns, "-topic", topic, "-all"}

	for _, cd := range []string{"msgpack", "proto"} {
		code, out, errOut := mqrpc(t, append(base, "-codec", cd, "calc.v1.Calculator/Add", `{"a":2,"b":3}`)...)
		if code != exitOK || !strings.Contains(errOut, "2 replies") {
			t.Fatalf("%s: exit %d, stdout %q, stderr %q; want 0 and 2 replies", cd, code, out, errOut)
		}
		lines := strings.Split(strings.TrimSpace(out), "\n")
		slices.Sort(lines)
		want := []string{ids[0] + "\tok\t{\"sum\":\"5\"}", ids[1] + "\tok\t{\"sum\":\"5\"}"}
		if !slices.Equal(lines, want) {
			t.Fatalf("%s: stdout lines %q, want %q", cd, lines, want)
		}
	}

	// Each server's error is its line's status; the command succeeds.
	code, out, errOut := mqrpc(t, append(base, "calc.v1.Calculator/Div", `{"a":7,"b":0}`)...)
	if code != exitOK || strings.Count(out, "\tinvalid_argument\tdivision of 7 by zero") != 2 {
		t.Fatalf("exit %d, stdout %q, stderr %q; want a failed line per server", code, out, errOut)
	}

	code, out, errOut = mqrpc(t, append(base, "-o", "json", "calc.v1.Calculator/Add", `{"a":2,"b":3}`)...)
	var rep struct {
		Method  string
		Replies []struct {
			Instance string
			Status   string
			Response map[string]any
		}
	}
	if code != exitOK || json.Unmarshal([]byte(out), &rep) != nil || len(rep.Replies) != 2 {
		t.Fatalf("-o json: exit %d, stdout %q, stderr %q; want 2 replies", code, out, errOut)
	}
	for _, r := range rep.Replies {
		if !slices.Contains(ids, r.Instance) || r.Status != "ok" || r.Response["sum"] != "5" {
			t.Errorf("-o json reply %+v, want ok with sum 5 from one of %v", r, ids)
		}
	}
}
