// The tests in this file need a RocketMQ broker: MQRPC_NAMESRV (see
// rocketmqtest.NameServer).
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mqrpc/mqrpc/examples/calcpb/calcv1"
	"github.com/mqrpc/mqrpc/examples/calculator/calculator"
	"github.com/mqrpc/mqrpc/runtime"
	"github.com/mqrpc/mqrpc/runtime/rocketmq"
	"github.com/mqrpc/mqrpc/runtime/rocketmq/rocketmqtest"
)

// startCalcpb serves impl as the .proto service calc.v1.Calculator on a
// topic of its own, until the test ends. It returns the topic and the
// codec of each request the server took, by call id.
func startCalcpb(t *testing.T, ns string, impl calcv1.Calculator) (topic string, codecs *codecSpy) {
	t.Helper()
	topic = fmt.Sprintf("mqrpccli_%s_%d", strings.ReplaceAll(t.Name(), "/", "_"), time.Now().UnixNano())
	tr, err := rocketmq.New(rocketmq.Config{NameServers: []string{ns}})
	if err != nil {
		t.Fatal(err)
	}
	codecs = &codecSpy{Transport: tr, byCall: map[string]string{}}
	srv := runtime.NewServer(codecs, runtime.WithServiceTopic(calcv1.CalculatorServiceName, topic))
	if err := calcv1.RegisterCalculator(srv, impl); err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.GracefulStop(); _ = tr.Close() })
	return topic, codecs
}

// codecSpy is a server's transport that notes the codec of every request
// it delivers.
type codecSpy struct {
	runtime.Transport
	mu     sync.Mutex
	byCall map[string]string
}

func (s *codecSpy) Subscribe(topic, group string, h runtime.MessageHandler) (runtime.Subscription, error) {
	return s.Transport.Subscribe(topic, group, func(ctx context.Context, m *runtime.Message) error {
		id, _, _ := strings.Cut(m.Key, " ")
		s.mu.Lock()
		s.byCall[id] = m.Properties[runtime.PropCodec]
		s.mu.Unlock()
		return h(ctx, m)
	})
}

func (s *codecSpy) codecOf(callID string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.byCall[callID]
}

// callIDOf reads the call id from the status line on stderr.
func callIDOf(t *testing.T, stderr string) string {
	t.Helper()
	i := strings.Index(stderr, "call id ")
	if i < 0 {
		t.Fatalf("no call id in %q", stderr)
	}
	return strings.Fields(stderr[i:])[2]
}

func TestCallCallsAProtoMethodInEitherCodec(t *testing.T) {
	ns := rocketmqtest.NameServer(t)
	topic, codecs := startCalcpb(t, ns, calcv1.Server{})
	base := []string{"call", "-namesrv", ns, "-topic", topic}
	invalid := exitStatusBase + int(runtime.InvalidArgument)

	tests := []struct {
		name     string
		args     []string
		code     int
		stdout   string
		inStderr string
	}{
		{"object", []string{"calc.v1.Calculator/Add", `{"a":2,"b":3}`}, exitOK, `{"sum":"5"}` + "\n", "ok  /calc.v1.Calculator/Add"},
		{"array of one", []string{"/calc.v1.Calculator/Add", `[{"a":"-2","b":3}]`}, exitOK, `{"sum":"1"}` + "\n", "ok"},
		{"unset fields printed", []string{"calc.v1.Calculator/Div", `{"a":6,"b":3}`}, exitOK, `{"quotient":"2","remainder":"0"}` + "\n", "ok"},
		{"no argument is the empty message", []string{"calc.v1.Calculator/Add"}, exitOK, `{"sum":"0"}` + "\n", "ok"},
		{"error status", []string{"calc.v1.Calculator/Div", `{"a":7,"b":0}`}, invalid, "", "invalid_argument: division of 7 by zero"},
		{"unknown field", []string{"calc.v1.Calculator/Add", `{"a":2,"c":3}`}, exitUsage, "",
			`/calc.v1.Calculator/Add: calc.v1.AddRequest: `},
		{"wrong type", []string{"calc.v1.Calculator/Add", `{"a":"two"}`}, exitUsage, "", "calc.v1.AddRequest"},
		{"two messages", []string{"calc.v1.Calculator/Add", `[{"a":1},{"a":2}]`}, exitUsage, "", "2 arguments given, the method takes 1 (calc.v1.AddRequest)"},
		{"not JSON", []string{"calc.v1.Calculator/Add", `a=2`}, exitUsage, "", "or for a .proto method a JSON object"},
		{"unknown codec", []string{"-codec", "xml", "calc.v1.Calculator/Add", `{}`}, exitUsage, "", `-codec: codec "xml" is not registered`},
		{"unknown method", []string{"calc.v1.Calculator/Pow", `{}`}, exitStatusBase + int(runtime.Unimplemented), "", "has no method Pow; it has Add, Div, Record"},
	}
	for _, cd := range []string{"msgpack", "proto"} {
		for _, tt := range tests {
			t.Run(cd+"/"+tt.name, func(t *testing.T) {
				code, out, errOut := mqrpc(t, append(append(base, "-codec", cd), tt.args...)...)
				if code != tt.code || out != tt.stdout || !strings.Contains(errOut, tt.inStderr) {
					t.Fatalf("got exit %d, stdout %q, stderr %q; want exit %d, stdout %q, stderr containing %q",
						code, out, errOut, tt.code, tt.stdout, tt.inStderr)
				}
				if code == exitOK || code == invalid {
					// The request travelled in the codec asked for.
					if got := codecs.codecOf(callIDOf(t, errOut)); got != cd {
						t.Errorf("the server took a request in %q, want %q", got, cd)
					}
				}
			})
		}
	}
	if code, _, errOut := mqrpc(t, append(base, "calc.v1.Calculator/Add", `{"a":2,"c":3}`)...); !strings.Contains(errOut, `unknown field "c"`) {
		t.Errorf("unknown field: exit %d, stderr %q does not name the field", code, errOut)
	}
}

func TestCallPrintsAProtoResponseAsJSON(t *testing.T) {
	ns := rocketmqtest.NameServer(t)
	topic, _ := startCalcpb(t, ns, calcv1.Server{})
	base := []string{"call", "-namesrv", ns, "-topic", topic, "-o", "json"}

	for _, cd := range []string{"msgpack", "proto"} {
		code, out, errOut := mqrpc(t, append(base, "-codec", cd, "calc.v1.Calculator/Div", `{"a":7,"b":2}`)...)
		if code != exitOK {
			t.Fatalf("%s: exit %d, stderr %s", cd, code, errOut)
		}
		var rep struct {
			Method    string
			Status    string
			CallID    string  `json:"call_id"`
			LatencyMS float64 `json:"latency_ms"`
			Response  map[string]any
		}
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatalf("%s: %v\n%s", cd, err, out)
		}
		want := map[string]any{"quotient": "3", "remainder": "1"}
		if rep.Method != calcv1.Calculator_Div_FullMethodName || rep.Status != "ok" || rep.CallID == "" || rep.LatencyMS <= 0 ||
			fmt.Sprint(rep.Response) != fmt.Sprint(want) {
			t.Errorf("%s: got %+v from %s", cd, rep, out)
		}

		code, out, _ = mqrpc(t, append(base, "-codec", cd, "calc.v1.Calculator/Div", `{"a":7}`)...)
		var fail struct {
			Status  string
			Code    int
			Message string
		}
		if err := json.Unmarshal([]byte(out), &fail); err != nil {
			t.Fatalf("%s: %v\n%s", cd, err, out)
		}
		if code != exitStatusBase+int(runtime.InvalidArgument) || fail.Status != "invalid_argument" ||
			fail.Code != int(runtime.InvalidArgument) || fail.Message != "division of 7 by zero" {
			t.Errorf("%s: exit %d, got %+v from %s", cd, code, fail, out)
		}
	}
}

func TestCallSendsAOneWayProtoMethod(t *testing.T) {
	ns := rocketmqtest.NameServer(t)
	records := make(chan string, 1)
	topic, _ := startCalcpb(t, ns, calcv1.Server{Records: records})
	code, out, errOut := mqrpc(t, "call", "-namesrv", ns, "-topic", topic, "calc.v1.Calculator/Record", `{"note":"hello"}`)
	if code != exitOK || out != "" || !strings.Contains(errOut, "ok  /calc.v1.Calculator/Record") {
		t.Fatalf("got exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	select {
	case note := <-records:
		if note != "hello" {
			t.Errorf("the server recorded %q, want %q", note, "hello")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the server did not record the note within 10 s")
	}
}

func TestDescribeShowsAProtoService(t *testing.T) {
	ns := rocketmqtest.NameServer(t)
	topic, _ := startCalcpb(t, ns, calcv1.Server{})
	code, out, errOut := mqrpc(t, "describe", "-namesrv", ns, "-topic", topic, "calc.v1.Calculator")
	if code != exitOK {
		t.Fatalf("exit %d, stderr %s", code, errOut)
	}
	want := "calc.v1.Calculator (topic " + topic + ")\n" +
		"  Add(calc.v1.AddRequest) *calc.v1.AddResponse  [idempotent]\n" +
		"  Div(calc.v1.DivRequest) *calc.v1.DivResponse  [idempotent]\n" +
		"  Record(calc.v1.RecordRequest) *google.protobuf.Empty  [one-way]\n"
	if out != want {
		t.Errorf("got\n%s\nwant\n%s", out, want)
	}

	code, out, errOut = mqrpc(t, "describe", "-namesrv", ns, "-topic", topic, "-o", "json", "calc.v1.Calculator/Add")
	if code != exitOK {
		t.Fatalf("json: exit %d, stderr %s", code, errOut)
	}
	var svc runtime.ServiceDescription
	if err := json.Unmarshal([]byte(out), &svc); err != nil {
		t.Fatalf("json: %v\n%s", err, out)
	}
	_, resp, err := svc.ProtoMessages("Add")
	if err != nil {
		t.Fatalf("json: %v", err)
	}
	if len(svc.Methods) != 1 || svc.Methods[0].Request != "calc.v1.AddRequest" || resp.Fields().ByName("sum") == nil {
		t.Errorf("json: got %+v", svc)
	}
}

func TestCallRefusesBadArgumentsOfAGoMethod(t *testing.T) {
	ns := rocketmqtest.NameServer(t)
	topic := startCalculator(t, ns, calculator.Server{})
	base := []string{"call", "-namesrv", ns, "-topic", topic}
	for _, tt := range []struct {
		args     []string
		inStderr string
	}{
		{[]string{"calculator.Calculator/Add", `[null,1]`}, "argument 1 (a): int cannot be null"},
		{[]string{"calculator.Calculator/Stats", `[{"Nome":"t","Values":[1]}]`},
			`argument 1 (s): calculator.Series has no field "Nome"; its fields are Name, Values`},
		{[]string{"calculator.Calculator/Stats", `[{"Name":"t","Values":[1,null]}]`}, "argument 1 (s): .Values: [1]: float64 cannot be null"},
		{[]string{"-codec", "proto", "calculator.Calculator/Add", `[1,2]`}, "-codec proto carries only protobuf messages"},
	} {
		code, out, errOut := mqrpc(t, append(base, tt.args...)...)
		if code != exitUsage || out != "" || !strings.Contains(errOut, tt.inStderr) {
			t.Errorf("%q: got exit %d, stdout %q, stderr %q; want exit %d, stderr containing %q", tt.args, code, out, errOut, exitUsage, tt.inStderr)
		}
	}
}

// A service name no server group answers to fails at once with NotFound,
// naming the services that are served, instead of waiting out the
// deadline on a topic nobody reads.
func TestCallOfAnUnknownServiceFailsAtOnce(t *testing.T) {
	ns := rocketmqtest.NameServer(t)
	startCalculator(t, ns, calculator.Server{})
	start := time.Now()
	code, out, errOut := mqrpc(t, "call", "-namesrv", ns, "-timeout", "20s", "calculator.Calculatr/Add", "[1,2]")
	took := time.Since(start)
	if want := exitStatusBase + int(runtime.NotFound); code != want {
		t.Fatalf("exit %d, want %d; stdout %s stderr %s", code, want, out, errOut)
	}
	if !strings.Contains(errOut, "no server serves calculator.Calculatr (topic calculator_Calculatr)") ||
		!strings.Contains(errOut, "calculator.Calculator") {
		t.Errorf("stderr does not name the service and those served: %s", errOut)
	}
	if took > 10*time.Second {
		t.Errorf("took %v: the call waited for its deadline", took)
	}
}
