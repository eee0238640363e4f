// The tests in this file need a RocketMQ broker: MQRPC_NAMESRV (see
// rocketmqtest.NameServer).
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"slices"
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
	return serveOn(t, ns, calculator.CalculatorServiceName, func(s *runtime.Server) error { return calculator.RegisterCalculator(s, impl) })
}

// serveOn serves the service that register adds on a topic of the test's
// own, until the test ends, and returns the topic.
func serveOn(t *testing.T, ns, service string, register func(*runtime.Server) error) string {
	t.Helper()
	topic := fmt.Sprintf("mqrpccli_%s_%d", strings.ReplaceAll(t.Name(), "/", "_"), time.Now().UnixNano())
	tr, err := rocketmq.New(rocketmq.Config{NameServers: []string{ns}})
	if err != nil {
		t.Fatal(err)
	}
	srv := runtime.NewServer(tr, runtime.WithServiceTopic(service, topic))
	if err := register(srv); err != nil {
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
		"  Add(a int, b int) int  [idempotent]\n" +
		"  Sub(a int, b int) int  [idempotent]\n" +
		"  Mul(a int, b int) int  [idempotent]\n" +
		"  Div(a int, b int) (quotient int, remainder int)  [idempotent]\n" +
		"  Stats(s calculator.Series) calculator.Summary  [idempotent]\n"
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
	if len(svc.Methods) != 1 || svc.Methods[0].Results[1].Name != "remainder" || !svc.Methods[0].Idempotent {
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
		{"not JSON", []string{"calculator.Calculator/Add", `2,3`}, exitUsage, "", "arguments are not valid JSON: invalid character ',' after top-level value (at byte 2 of 3)"},
		{"truncated array", []string{"calculator.Calculator/Add", `[2,`}, exitUsage, "", "arguments are not valid JSON: unexpected end of JSON input"},
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

// withTrailer is the calculator with a Div that sets a trailer.
type withTrailer struct{ calculator.Server }

func (s withTrailer) Div(ctx context.Context, a, b int) (int, int, error) {
	runtime.SetTrailer(ctx, "region", "eu")
	return s.Server.Div(ctx, a, b)
}

// findJSON runs find -o json until it shows the call with its stored
// reply: the broker pushes a reply before it stores it.
func findJSON(t *testing.T, args ...string) (found, string) {
	t.Helper()
	for end := time.Now().Add(10 * time.Second); ; {
		code, out, errOut := mqrpc(t, append([]string{"find", "-o", "json"}, args...)...)
		if code != exitOK {
			t.Fatalf("find %q: exit %d, stderr %s", args, code, errOut)
		}
		var f found
		if err := json.Unmarshal([]byte(out), &f); err != nil {
			t.Fatalf("find %q: %v\n%s", args, err, out)
		}
		if f.Reply != nil || time.Now().After(end) {
			return f, out
		}
	}
}

func TestFindShowsACallMadeSecondsEarlier(t *testing.T) {
	ns := rocketmqtest.NameServer(t)
	topic := startCalculator(t, ns, withTrailer{})
	key := fmt.Sprintf("order-%d", time.Now().UnixNano())
	code, _, errOut := mqrpc(t, "call", "-namesrv", ns, "-topic", topic, "-key", key, "-md", "tenant=acme", "calculator.Calculator/Div", "[7,2]")
	if code != exitOK {
		t.Fatalf("call: exit %d, stderr %s", code, errOut)
	}
	id := strings.Fields(errOut[strings.Index(errOut, "call id "):])[2]

	for _, args := range [][]string{
		{"-topic", topic, id},
		{"-topic", topic, key},
		// Without -topic or -service: every topic with a server group.
		{id},
		{key},
	} {
		f, out := findJSON(t, append([]string{"-namesrv", ns, "-since", "5m"}, args...)...)
		if f.CallID != id || f.Topic != topic || f.Method != calculator.Calculator_Div_FullMethodName || f.Metadata["tenant"] != "acme" ||
			jsonargs.Marshal(f.Args) != "[7,2]" || f.Reply == nil || f.Reply.Status != "ok" || jsonargs.Marshal(f.Reply.Results) != "[3,1]" ||
			f.Reply.Trailer["region"] != "eu" {
			t.Errorf("find %q: got %s", args, out)
			continue
		}
		var whats []string
		for i, ev := range f.Timeline {
			whats = append(whats, ev.What)
			// Born times are taken by client and server clocks, stored
			// times by the broker's: on one machine they are in order.
			if i > 0 && ev.At.Before(f.Timeline[i-1].At) {
				t.Errorf("find %q: time line out of order: %+v", args, f.Timeline)
			}
		}
		if want := []string{evSent, evStored, evReceived, evReplied, evReplyKept}; !slices.Equal(whats, want) {
			t.Errorf("find %q: time line %q, want %q", args, whats, want)
		}
		d := f.Durations
		if d == nil || d.RequestTransit == nil || d.QueueWait == nil || d.HandlerAndReply == nil || d.ReplyTransit == nil {
			t.Errorf("find %q: durations %s", args, out)
		} else if got, want := *d.QueueWait, float64(f.Timeline[2].At.Sub(f.Timeline[1].At).Microseconds())/1000; got != want {
			t.Errorf("find %q: queue wait %v ms, want picked up - stored = %v ms", args, got, want)
		}
	}

	// Text: request and reply side by side, then the time line with its
	// gaps.
	t.Setenv("COLUMNS", "120")
	code, out, errOut := mqrpc(t, "find", "-namesrv", ns, "-since", "5m", id)
	if code != exitOK {
		t.Fatalf("find text: exit %d, stderr %s", code, errOut)
	}
	for _, want := range [][]string{
		{"request", "|", "reply"},
		{"method", calculator.Calculator_Div_FullMethodName, "|", "status", "ok"},
		{"metadata", "tenant=acme", "|", "trailer", "region=eu"},
		{"args", "[7,2]", "|", "results", "[3,1]"},
		{evStored, "ms", "request transit"},
		{evReceived, "ms", "queue wait"},
		{evReplied, "ms", "handler and reply"},
		{evReplyKept, "ms", "reply transit"},
	} {
		if !hasLineWith(out, want...) {
			t.Errorf("find text: no line with %q in\n%s", want, out)
		}
	}

	code, out, _ = mqrpc(t, "find", "-namesrv", ns, "-topic", topic, "-since", "5m", "-o", "json", "no-such-call")
	var e jsonError
	if err := json.Unmarshal([]byte(out), &e); err != nil || code != exitNotFound || e.Error.Exit != exitNotFound || e.Error.Code != "not_found" ||
		!strings.Contains(e.Error.Message, `"no-such-call"`) {
		t.Errorf("find of an unknown key: exit %d, stdout %s (%v); want exit %d and a JSON error", code, out, err, exitNotFound)
	}
}

// hasLineWith reports whether a line of out has the words, in order.
func hasLineWith(out string, words ...string) bool {
	for line := range strings.Lines(out) {
		rest, ok := line, true
		for _, w := range words {
			var found bool
			_, rest, found = strings.Cut(rest, w)
			ok = ok && found
		}
		if ok {
			return true
		}
	}
	return false
}

// With -o json, every failure is one JSON object on stdout with the exit
// code.
func TestFailuresPrintAJSONErrorWithJSONOutput(t *testing.T) {
	ns := rocketmqtest.NameServer(t)
	for _, args := range [][]string{
		{"describe", "-namesrv", ns, "-topic", fmt.Sprintf("mqrpccli_nobody_%d", time.Now().UnixNano()), "-timeout", "1s", "calculator.Calculator"},
		{"call", "NoMethod"},
		{"find", "-topic", "a", "-service", "b", "x"},
		{"replay", "-topic", "t", "-since", "yesterday"},
		{"list", "extra"},
		{"find", "-frobnicate"},
	} {
		args = slices.Insert(args, 1, "-o", "json")
		code, out, errOut := mqrpc(t, args...)
		var e jsonError
		if err := json.Unmarshal([]byte(out), &e); err != nil {
			t.Errorf("%q: exit %d, stdout %q is not JSON: %v (stderr %s)", args, code, out, err, errOut)
			continue
		}
		if code == exitOK || e.Error.Exit != code || e.Error.Code != exitName(code) || e.Error.Message == "" {
			t.Errorf("%q: exit %d, error %+v", args, code, e.Error)
		}
	}
}

// A name server that does not answer is exit code 2, for every command
// that needs the cluster, as text and as JSON.
func TestUnreachableNameServerIsExitCode2(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := ln.Addr().String()
	_ = ln.Close()
	for _, args := range [][]string{
		{"list"},
		{"describe", "calculator.Calculator"},
		{"call", "calculator.Calculator/Add", "[2,3]"},
		{"find", "some-call"},
		{"find", "-topic", "t", "some-call"},
		{"replay", "-topic", "t", "-since", "1m"},
	} {
		for _, output := range []string{"text", "json"} {
			args := slices.Insert(slices.Clone(args), 1, "-namesrv", down, "-o", output)
			code, out, errOut := mqrpc(t, args...)
			if code != exitUnreachable || !strings.Contains(errOut, down) {
				t.Errorf("%q: exit %d, stderr %q; want exit %d naming the name server", args, code, errOut, exitUnreachable)
			}
			if output == "json" && !strings.Contains(out, `"exit_code": 2`) {
				t.Errorf("%q: stdout %q, want a JSON error", args, out)
			}
		}
	}
}
