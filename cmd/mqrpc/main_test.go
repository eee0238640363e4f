// The tests in this file need a RocketMQ broker: MQRPC_NAMESRV (see
// rocketmqtest.NameServer).
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/mqrpc/mqrpc/examples/calculator/calculator"
	"github.com/mqrpc/mqrpc/internal/jsonargs"
	"github.com/mqrpc/mqrpc/runtime"
	"github.com/mqrpc/mqrpc/runtime/rocketmq"
	"github.com/mqrpc/mqrpc/runtime/rocketmq/rocketmqtest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, rocketmqtest.IgnoreLibraryGoroutines()...)
}

// startCalculator serves impl as calculator.Calculator on a topic of its
// own, until the test ends, and returns the topic.
func startCalculator(t *testing.T, ns string, impl calculator.Calculator) string {
	t.Helper()
	topic := fmt.Sprintf("mqrpccli_%s_%d", strings.ReplaceAll(t.Name(), "/", "_"), time.Now().UnixNano())
	tr, err := rocketmq.New(rocketmq.Config{NameServers: []string{ns}})
	if err != nil {
		t.Fatal(err)
	}
	srv := runtime.NewServer(tr, runtime.WithServiceTopic(calculator.CalculatorServiceName, topic))
	if err := calculator.RegisterCalculator(srv, impl); err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.GracefulStop(); _ = tr.Close() })
	return topic
}

// mqrpc runs the command in-process and returns its exit code and output.
func mqrpc(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestDescribeShowsTheCalculatorsMethods(t *testing.T) {
	ns := rocketmqtest.NameServer(t)
	topic := startCalculator(t, ns, calculator.Server{})

	code, out, errOut := mqrpc(t, "describe", "-namesrv", ns, "-topic", topic, "calculator.Calculator")
	if code != exitOK {
		t.Fatalf("exit %d, stderr %s", code, errOut)
	}
	want := "calculator.Calculator (topic " + topic + ")\n" +
		"  Add(a int, b int) int\n" +
		"  Sub(a int, b int) int\n" +
		"  Mul(a int, b int) int\n" +
		"  Div(a int, b int) (quotient int, remainder int)\n" +
		"  Stats(s calculator.Series) calculator.Summary\n"
	if out != want {
		t.Errorf("got\n%s\nwant\n%s", out, want)
	}

	code, out, errOut = mqrpc(t, "describe", "-namesrv", ns, "-topic", topic, "-o", "json", "calculator.Calculator/Div")
	if code != exitOK {
		t.Fatalf("json: exit %d, stderr %s", code, errOut)
	}
	var svc runtime.ServiceDescription
	if err := json.Unmarshal([]byte(out), &svc); err != nil {
		t.Fatalf("json: %v\n%s", err, out)
	}
	if len(svc.Methods) != 1 || svc.Methods[0].Results[1].Name != "remainder" {
		t.Errorf("json: got %+v", svc)
	}
}

func TestCallConvertsArgumentsAndReportsStatus(t *testing.T) {
	ns := rocketmqtest.NameServer(t)
	topic := startCalculator(t, ns, calculator.Server{})
	base := []string{"call", "-namesrv", ns, "-topic", topic}

	tests := []struct {
		name     string
		args     []string
		code     int
		stdout   string
		inStderr string
	}{
		{"add", []string{"calculator.Calculator/Add", "[2,3]"}, exitOK, "[5]\n", "ok  /calculator.Calculator/Add"},
		{"two results", []string{"/calculator.Calculator/Div", "[7,2]"}, exitOK, "[3,1]\n", "ok"},
		{"struct argument", []string{"calculator.Calculator/Stats", `[{"Name":"t","Values":[3,1.5,7]}]`}, exitOK,
			`[{"Count":3,"Max":7,"Mean":3.8333333333333335,"Min":1.5,"Name":"t","Sum":11.5}]` + "\n", "ok"},
		{"status of a failed call", []string{"calculator.Calculator/Div", "[7,0]"}, exitStatusBase + int(runtime.InvalidArgument), "",
			"invalid_argument: division of 7 by zero"},
		{"wrong type", []string{"calculator.Calculator/Add", `[2,"x"]`}, exitUsage, "", "argument 2 (b): want an integer for int"},
		{"wrong count", []string{"calculator.Calculator/Add", `[2]`}, exitUsage, "", "1 arguments given, the method takes 2 (a int, b int)"},
		{"not JSON", []string{"calculator.Calculator/Add", `2,3`}, exitUsage, "", "must be a JSON array"},
		{"unknown method", []string{"calculator.Calculator/Pow", `[2,3]`}, exitStatusBase + int(runtime.Unimplemented), "", "has no method Pow"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := mqrpc(t, append(base, tt.args...)...)
			if code != tt.code || out != tt.stdout || !strings.Contains(errOut, tt.inStderr) {
				t.Errorf("got exit %d, stdout %q, stderr %q; want exit %d, stdout %q, stderr containing %q",
					code, out, errOut, tt.code, tt.stdout, tt.inStderr)
			}
		})
	}

	code, out, errOut := mqrpc(t, append(base, "-o", "json", "calculator.Calculator/Div", "[7,2]")...)
	if code != exitOK {
		t.Fatalf("json: exit %d, stderr %s", code, errOut)
	}
	var rep struct {
		Status    string
		CallID    string `json:"call_id"`
		Results   []int
		Named     map[string]int
		LatencyMS float64 `json:"latency_ms"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("json: %v\n%s", err, out)
	}
	if rep.Status != "ok" || rep.CallID == "" || rep.Named["quotient"] != 3 || rep.Named["remainder"] != 1 || rep.LatencyMS <= 0 {
		t.Errorf("json: got %+v from %s", rep, out)
	}
}

func TestListFindsARunningServer(t *testing.T) {
	ns := rocketmqtest.NameServer(t)
	topic := startCalculator(t, ns, calculator.Server{})
	code, out, errOut := mqrpc(t, "list", "-namesrv", ns, "-timeout", "2s")
	if code != exitOK {
		t.Fatalf("exit %d, stderr %s", code, errOut)
	}
	if !strings.Contains(out, "topic "+topic+", 5 methods") {
		t.Errorf("list does not show topic %s:\n%s", topic, out)
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{{}, {"frobnicate"}, {"call"}, {"call", "-o", "yaml", "a/B"}, {"call", "NoMethod"}} {
		if code, _, _ := mqrpc(t, args...); code != exitUsage {
			t.Errorf("%q: exit %d, want %d", args, code, exitUsage)
		}
	}
}

func TestFindShowsACallMadeSecondsEarlier(t *testing.T) {
	ns := rocketmqtest.NameServer(t)
	topic := startCalculator(t, ns, calculator.Server{})
	key := fmt.Sprintf("order-%d", time.Now().UnixNano())
	code, _, errOut := mqrpc(t, "call", "-namesrv", ns, "-topic", topic, "-key", key, "-md", "tenant=acme", "calculator.Calculator/Div", "[7,2]")
	if code != exitOK {
		t.Fatalf("call: exit %d, stderr %s", code, errOut)
	}
	id := strings.Fields(errOut[strings.Index(errOut, "call id "):])[2]

	for _, which := range []string{id, key} {
		// The broker pushes a reply before it stores it: wait for the
		// stored reply, within a deadline.
		var f found
		var out string
		for end := time.Now().Add(10 * time.Second); ; {
			var code int
			var errOut string
			code, out, errOut = mqrpc(t, "find", "-namesrv", ns, "-topic", topic, "-since", "5m", "-o", "json", which)
			if code != exitOK {
				t.Fatalf("find %s: exit %d, stderr %s", which, code, errOut)
			}
			f = found{}
			if err := json.Unmarshal([]byte(out), &f); err != nil {
				t.Fatalf("find %s: %v\n%s", which, err, out)
			}
			if f.Reply != nil || time.Now().After(end) {
				break
			}
		}
		if f.CallID != id || f.Method != calculator.Calculator_Div_FullMethodName || f.Metadata["tenant"] != "acme" ||
			jsonargs.Marshal(f.Args) != "[7,2]" || f.Reply == nil || f.Reply.Status != "ok" || jsonargs.Marshal(f.Reply.Results) != "[3,1]" {
			t.Errorf("find %s: got %s", which, out)
		}
		if len(f.Timeline) != 4 {
			t.Fatalf("find %s: time line %+v", which, f.Timeline)
		}
		for i := 1; i < len(f.Timeline); i++ {
			// Born times are taken by client and server clocks, stored
			// times by the broker's: on one machine they are in order.
			if f.Timeline[i].At.Before(f.Timeline[i-1].At) {
				t.Errorf("find %s: time line out of order: %+v", which, f.Timeline)
			}
		}
	}
	if code, _, _ := mqrpc(t, "find", "-namesrv", ns, "-topic", topic, "-since", "5m", "no-such-call"); code != exitFound {
		t.Errorf("find of an unknown key: exit %d, want %d", code, exitFound)
	}
}
