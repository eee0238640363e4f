package main

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mqrpc/mqrpc/examples/calculator/calculator"
	"github.com/mqrpc/mqrpc/runtime"
	"github.com/mqrpc/mqrpc/runtime/rocketmq"
	"github.com/mqrpc/mqrpc/runtime/rocketmq/rocketmqtest"
)

// callOK runs mqrpc call with args and returns the call id.
func callOK(t *testing.T, wantCode int, args ...string) string {
	t.Helper()
	code, _, errOut := mqrpc(t, append([]string{"call"}, args...)...)
	if code != wantCode {
		t.Fatalf("call %q: exit %d, want %d; stderr %s", args, code, wantCode, errOut)
	}
	return callIDOf(t, errOut)
}

// findCalls runs find -o json with args until check accepts its answer
// (a reply is pushed before it is stored, and indexed a moment later), and
// returns the last answer.
func findCalls(t *testing.T, check func(calls) bool, args ...string) calls {
	t.Helper()
	var cs calls
	for end := time.Now().Add(15 * time.Second); ; {
		code, out, errOut := mqrpc(t, append([]string{"find", "-o", "json"}, args...)...)
		if code != exitOK {
			t.Fatalf("find %q: exit %d, stdout %s, stderr %s", args, code, out, errOut)
		}
		cs = calls{}
		if err := json.Unmarshal([]byte(out), &cs); err != nil {
			t.Fatalf("find %q: %v\n%s", args, err, out)
		}
		if check(cs) || time.Now().After(end) {
			return cs
		}
	}
}

func idsOf(cs calls) []string {
	var ids []string
	for _, c := range cs.Calls {
		ids = append(ids, c.CallID)
	}
	return ids
}

func TestFindListsEveryCallUnderAKeyNewestFirst(t *testing.T) {
	ns := rocketmqtest.NameServer(t)
	topic := startCalculator(t, ns, calculator.Server{})
	key := fmt.Sprintf("order-%d", time.Now().UnixNano())
	base := []string{"-namesrv", ns, "-topic", topic, "-key", key}
	// Oldest first: Add, then a Div that fails, then Mul.
	ids := []string{
		callOK(t, exitOK, append(base, "calculator.Calculator/Add", "[1,2]")...),
		callOK(t, exitStatusBase+int(runtime.InvalidArgument), append(base, "calculator.Calculator/Div", "[1,0]")...),
		callOK(t, exitOK, append(base, "calculator.Calculator/Mul", "[2,3]")...),
	}
	// A call under another key is not listed.
	callOK(t, exitOK, "-namesrv", ns, "-topic", topic, "-key", key+"-other", "calculator.Calculator/Add", "[5,5]")
	newestFirst := []string{ids[2], ids[1], ids[0]}

	for _, args := range [][]string{
		{"-topic", topic, key},
		{key}, // every topic with a server group
		{"-scan", "-topic", topic, key},
	} {
		cs := findCalls(t, func(cs calls) bool {
			return cs.Count == 3 && !slices.ContainsFunc(cs.Calls, func(c *callSummary) bool { return c.Status == statusNoReply })
		}, append([]string{"-namesrv", ns, "-since", "5m"}, args...)...)
		if cs.Count != 3 || !slices.Equal(idsOf(cs), newestFirst) {
			t.Fatalf("find %q: count %d, ids %q, want 3 calls %q", args, cs.Count, idsOf(cs), newestFirst)
		}
		// The index of keys is asked unless -scan says to read the window.
		if cs.Scanned != slices.Contains(args, "-scan") {
			t.Errorf("find %q: scanned %v", args, cs.Scanned)
		}
		want := []struct{ method, status string }{
			{calculator.Calculator_Mul_FullMethodName, "ok"},
			{calculator.Calculator_Div_FullMethodName, "invalid_argument"},
			{calculator.Calculator_Add_FullMethodName, "ok"},
		}
		for i, c := range cs.Calls {
			if c.Method != want[i].method || c.Status != want[i].status || c.LatencyMS == nil || *c.LatencyMS <= 0 ||
				c.Topic != topic || !slices.Contains(c.Keys, key) || (i > 0 && c.Time.After(cs.Calls[i-1].Time)) {
				t.Errorf("find %q: call %d is %+v, want %s %s with a latency", args, i, c, want[i].method, want[i].status)
			}
		}
	}

	// Text: a count, then one line per call, newest first.
	code, out, errOut := mqrpc(t, "find", "-namesrv", ns, "-since", "5m", "-topic", topic, key)
	if code != exitOK {
		t.Fatalf("find text: exit %d, stderr %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 5 || !strings.HasPrefix(lines[0], "3 calls under key "+key) || !strings.Contains(lines[0], "newest first") ||
		!hasLineWith(lines[1], ids[2], calculator.Calculator_Mul_FullMethodName, "ok", "s") ||
		!hasLineWith(lines[2], ids[1], calculator.Calculator_Div_FullMethodName, "invalid_argument", "s", "division of 1 by zero") ||
		!hasLineWith(lines[3], ids[0], calculator.Calculator_Add_FullMethodName, "ok", "s") {
		t.Errorf("find text:\n%s", out)
	}

	// A call id still shows that one call.
	f, out := findJSON(t, "-namesrv", ns, "-since", "5m", "-topic", topic, ids[1])
	if f.CallID != ids[1] || f.Reply == nil || f.Reply.Status != "invalid_argument" {
		t.Errorf("find by call id: %s", out)
	}
}

func TestFindSearchesCallsByServiceMethodAndStatus(t *testing.T) {
	ns := rocketmqtest.NameServer(t)
	topic := startCalculator(t, ns, calculator.Server{})
	call := func(code int, method, args string) string {
		return callOK(t, code, "-namesrv", ns, "-topic", topic, method, args)
	}
	add := call(exitOK, "calculator.Calculator/Add", "[1,2]")
	div0 := call(exitStatusBase+int(runtime.InvalidArgument), "calculator.Calculator/Div", "[1,0]")
	div := call(exitOK, "calculator.Calculator/Div", "[7,2]")
	div1 := call(exitStatusBase+int(runtime.InvalidArgument), "calculator.Calculator/Div", "[2,0]")
	base := []string{"-namesrv", ns, "-topic", topic, "-since", "5m"}
	replied := func(n int) func(calls) bool {
		return func(cs calls) bool {
			return cs.Count == n && !slices.ContainsFunc(cs.Calls, func(c *callSummary) bool { return c.Status == statusNoReply })
		}
	}

	for _, tt := range []struct {
		args []string
		want []string
	}{
		{nil, []string{div1, div, div0, add}},
		{[]string{"-method", "Div"}, []string{div1, div, div0}},
		{[]string{"-method", calculator.Calculator_Div_FullMethodName}, []string{div1, div, div0}},
		{[]string{"-status", "failed"}, []string{div1, div0}},
		{[]string{"-status", "invalid_argument", "-method", "Div"}, []string{div1, div0}},
		{[]string{"-status", "ok"}, []string{div, add}},
		{[]string{"-status", "internal"}, nil},
	} {
		var check func(calls) bool
		if tt.want == nil {
			// Nothing matches: wait for every reply, then filter.
			findCalls(t, replied(4), base...)
			check = func(calls) bool { return true }
		} else {
			check = replied(len(tt.want))
		}
		cs := findCalls(t, check, append(base, tt.args...)...)
		if cs.Count != len(tt.want) || !slices.Equal(idsOf(cs), tt.want) {
			t.Errorf("find %q: count %d, ids %q; want %q", tt.args, cs.Count, idsOf(cs), tt.want)
		}
	}

	// A window that ends before the calls finds none of them.
	cs := findCalls(t, func(calls) bool { return true }, "-namesrv", ns, "-topic", topic, "-since", "10m", "-until", "5m")
	if cs.Count != 0 || cs.Calls == nil && cs.Count != 0 {
		t.Errorf("window before the calls: %+v", cs)
	}

	// Text, with -service: one line per call.
	code, out, errOut := mqrpc(t, "find", "-namesrv", ns, "-since", "5m", "-topic", topic, "-status", "failed")
	if code != exitOK || !strings.HasPrefix(out, "2 calls on topic "+topic+" with status failed") ||
		!hasLineWith(out, div1, "Div", "invalid_argument", "s") || !hasLineWith(out, div0, "Div", "invalid_argument", "s") ||
		strings.Contains(out, add) || strings.Contains(out, div+" ") {
		t.Errorf("find text: exit %d\n%s%s", code, out, errOut)
	}
	for _, args := range [][]string{
		{"find", "-namesrv", ns}, // neither a key nor a topic
		{"find", "-namesrv", ns, "-topic", topic, "-status", "broken"}, // unknown status
	} {
		if code, _, _ := mqrpc(t, args...); code != exitUsage {
			t.Errorf("%q: exit %d, want %d", args, code, exitUsage)
		}
	}
}

// listEntry is what list -o json says of one topic, whether its servers
// answered or not.
type listEntry struct {
	Topic       string              `json:"topic"`
	Instances   []rocketmq.Consumer `json:"instances"`
	Backlog     int64               `json:"backlog"`
	OldestAgeMS *int64              `json:"oldest_waiting_age_ms"`
	Methods     []json.RawMessage   `json:"methods"`
}

// listTopic runs list -o json and returns what it says of topic.
func listTopic(t *testing.T, ns, topic string) listEntry {
	t.Helper()
	code, out, errOut := mqrpc(t, "list", "-o", "json", "-namesrv", ns, "-timeout", "2s")
	if code != exitOK {
		t.Fatalf("list: exit %d, stderr %s", code, errOut)
	}
	var l struct{ Services, Unanswered []listEntry }
	if err := json.Unmarshal([]byte(out), &l); err != nil {
		t.Fatalf("list: %v\n%s", err, out)
	}
	for _, x := range append(l.Services, l.Unanswered...) {
		if x.Topic == topic {
			return x
		}
	}
	t.Fatalf("list does not show topic %s:\n%s", topic, out)
	return listEntry{}
}

// awaitHealth waits until the brokers report what want accepts of the
// group of topic, asking them as list does but without list's describe
// request: each would wait in the queue until a server commits its offset,
// which servers do every few seconds.
func awaitHealth(t *testing.T, ns, topic string, want func(rocketmq.ServiceHealth) bool) rocketmq.ServiceHealth {
	t.Helper()
	store, err := rocketmq.OpenStore(rocketmq.Config{NameServers: []string{ns}})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	for end := time.Now().Add(30 * time.Second); ; {
		hs, err := store.Health(context.Background(), []string{topic})
		if err != nil {
			t.Fatal(err)
		}
		if want(hs[0]) || time.Now().After(end) {
			return hs[0]
		}
	}
}

func TestListShowsInstancesAndBacklog(t *testing.T) {
	ns := rocketmqtest.NameServer(t)
	topic := fmt.Sprintf("mqrpccli_list_%d", time.Now().UnixNano())
	var stops []func()
	for range 2 {
		tr, err := rocketmq.New(rocketmq.Config{NameServers: []string{ns}})
		if err != nil {
			t.Fatal(err)
		}
		srv := runtime.NewServer(tr, runtime.WithServiceTopic(calculator.CalculatorServiceName, topic))
		if err := calculator.RegisterCalculator(srv, calculator.Server{}); err != nil {
			t.Fatal(err)
		}
		if err := srv.Start(); err != nil {
			t.Fatal(err)
		}
		stop := sync.OnceFunc(func() { srv.GracefulStop(); _ = tr.Close() })
		t.Cleanup(stop)
		stops = append(stops, stop)
	}
	for i := range 4 {
		callOK(t, exitOK, "-namesrv", ns, "-topic", topic, "calculator.Calculator/Add", fmt.Sprintf("[%d,1]", i))
	}

	// Served: 2 instances, nothing waiting (once the servers have
	// committed their offsets).
	// Each list's describe request is one more to serve and commit, and
	// a rebalance between the 2 servers can set a committed offset back
	// for a moment: list is run again until it agrees with the brokers.
	served := func(h rocketmq.ServiceHealth) bool { return len(h.Instances) == 2 && h.Backlog.Messages == 0 }
	var e listEntry
	for end := time.Now().Add(30 * time.Second); ; {
		if h := awaitHealth(t, ns, topic, served); !served(h) {
			t.Fatalf("served: brokers report %+v", h)
		}
		e = listTopic(t, ns, topic)
		if len(e.Instances) == 2 && e.Backlog == 0 || time.Now().After(end) {
			break
		}
	}
	if len(e.Instances) != 2 || e.Backlog != 0 || e.OldestAgeMS != nil || len(e.Methods) != 5 ||
		e.Instances[0].ClientID == e.Instances[1].ClientID || e.Instances[0].Addr == "" {
		t.Fatalf("served: got %+v, want 2 instances and a backlog of 0", e)
	}
	var code int
	var out, errOut string
	for end := time.Now().Add(30 * time.Second); ; {
		awaitHealth(t, ns, topic, served)
		code, out, errOut = mqrpc(t, "list", "-namesrv", ns, "-timeout", "2s")
		if strings.Contains(out, "topic "+topic+", 5 methods, 2 instances, backlog 0\n") || time.Now().After(end) {
			break
		}
	}
	if code != exitOK || !hasLineWith(out, "calculator.Calculator", "topic "+topic+", 5 methods, 2 instances, backlog 0") {
		t.Errorf("served, text: exit %d, stderr %s\n%s", code, errOut, out)
	}

	// No server: requests wait.
	for _, stop := range stops {
		stop()
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
	calc := calculator.NewCalculatorClient(c, runtime.WithTopic(topic), runtime.WithTimeout(300*time.Millisecond))
	for i := range 3 {
		if _, err := calc.Add(context.Background(), i, 2); runtime.CodeOf(err) != runtime.DeadlineExceeded {
			t.Fatalf("call with no server: %v, want deadline_exceeded", err)
		}
	}
	// The list has no server to ask: it sends nothing that would wait.
	for range 2 {
		e = listTopic(t, ns, topic)
		if len(e.Instances) != 0 || e.Backlog != 3 || e.OldestAgeMS == nil || *e.OldestAgeMS <= 0 || *e.OldestAgeMS > 60_000 {
			t.Fatalf("no server: got %+v, want 0 instances, a backlog of 3 and the age of the oldest", e)
		}
	}
	code, out, errOut = mqrpc(t, "list", "-namesrv", ns, "-timeout", "1s")
	if code != exitOK || !hasLineWith(out, "calculator.Calculator", "topic "+topic+", no server, backlog 3 (oldest waiting ") {
		t.Errorf("no server, text: exit %d, stderr %s\n%s", code, errOut, out)
	}
}
