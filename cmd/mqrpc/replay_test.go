package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mqrpc/mqrpc/examples/calculator/calculator"
	"github.com/mqrpc/mqrpc/internal/testservice"
	"github.com/mqrpc/mqrpc/runtime"
	"github.com/mqrpc/mqrpc/runtime/rocketmq"
	"github.com/mqrpc/mqrpc/runtime/rocketmq/rocketmqtest"
)

// serveCalculator serves impl as calculator.Calculator on topic and returns
// a function that stops it gracefully (also run when the test ends).
func serveCalculator(t *testing.T, ns, topic string, impl calculator.Calculator) (stop func()) {
	t.Helper()
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
	stopped := false
	stop = func() {
		if !stopped {
			stopped = true
			srv.GracefulStop()
			_ = tr.Close()
		}
	}
	t.Cleanup(stop)
	return stop
}

// offByOne is server v2: its Add is one too many for odd a.
type offByOne struct {
	calculator.Server
	calls atomic.Int64
}

func (s *offByOne) Add(_ context.Context, a, b int) (int, error) {
	s.calls.Add(1)
	if a%2 == 1 {
		return a + b + 1, nil
	}
	return a + b, nil
}

func TestReplayReportsTheCallsWhoseRepliesChanged(t *testing.T) {
	ns := rocketmqtest.NameServer(t)
	topic := fmt.Sprintf("mqrpccli_replay_%d", time.Now().UnixNano())
	stopV1 := serveCalculator(t, ns, topic, calculator.Server{})

	// Record 100 calls against v1.
	tr, err := rocketmq.New(rocketmq.Config{NameServers: []string{ns}})
	if err != nil {
		t.Fatal(err)
	}
	c, err := runtime.NewClient(tr)
	if err != nil {
		t.Fatal(err)
	}
	calc := calculator.NewCalculatorClient(c, runtime.WithTopic(topic), runtime.WithTimeout(10*time.Second))
	ctx := context.Background()
	since := time.Now().Add(-time.Second)
	for a := range 100 {
		if got, err := calc.Add(ctx, a, 1000); err != nil || got != a+1000 {
			t.Fatalf("Add(%d, 1000) = %d, %v", a, got, err)
		}
	}
	// Replays are stored on the same topic: the window ends here.
	until := time.Now()
	_ = c.Close()
	_ = tr.Close()
	window := []string{"-namesrv", ns, "-topic", topic, "-since", since.Format(time.RFC3339Nano), "-until", until.Format(time.RFC3339Nano)}

	// The broker pushes a reply before it stores it: wait until the 100
	// replies are stored.
	waitStoredReplies(t, ns, topic, since, until, 100)

	stopV1()
	v2 := &offByOne{}
	serveCalculator(t, ns, topic, v2)

	code, out, errOut := mqrpc(t, append([]string{"replay", "-dry-run"}, window...)...)
	if code != exitOK || !strings.HasSuffix(out, "would replay 100 calls (dry run: nothing sent)\n") ||
		strings.Count(out, "would send") != 100 {
		t.Fatalf("dry run: exit %d, stdout\n%s\nstderr %s", code, out, errOut)
	}
	if n := v2.calls.Load(); n != 0 {
		t.Fatalf("dry run: v2 handled %d calls, want 0", n)
	}

	code, out, errOut = mqrpc(t, append([]string{"replay", "-diff", "-qps", "500"}, window...)...)
	if code != exitReplayDiffers {
		t.Errorf("exit %d, want %d; stderr %s", code, exitReplayDiffers, errOut)
	}
	if !strings.HasSuffix(out, "replayed 100 calls: 50 same, 50 changed, 0 without a stored reply, 0 failed\n") {
		t.Errorf("stdout:\n%s", out)
	}
	if !strings.Contains(errOut, "replayed 100/100  100%") {
		t.Errorf("no progress on stderr: %s", errOut)
	}
	for a := range 100 {
		args := fmt.Sprintf("args [%d,1000]\n", a)
		var want string
		if a%2 == 1 {
			want = "changed " + calculator.Calculator_Add_FullMethodName
			diff := fmt.Sprintf("%s    results[0]: %d -> %d\n", args, a+1000, a+1001)
			if !strings.Contains(out, diff) {
				t.Errorf("no diff for a=%d", a)
			}
		} else {
			want = "same " + calculator.Calculator_Add_FullMethodName
		}
		found := false
		for line := range strings.Lines(out) {
			if strings.HasSuffix(line, args) {
				found = strings.Join(strings.Fields(line)[:2], " ") == want
				break
			}
		}
		if !found {
			t.Errorf("a=%d: want a line starting %q", a, want)
		}
	}
	if n := v2.calls.Load(); n != 100 {
		t.Errorf("v2 handled %d calls, want 100", n)
	}

	// -o json over the same window: v2's answers are unchanged since.
	code, out, errOut = mqrpc(t, append([]string{"replay", "-o", "json", "-qps", "500"}, window...)...)
	var rep struct {
		Calls   []replayed
		Summary replaySummary
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("json: %v\n%s\n%s", err, out, errOut)
	}
	if code != exitReplayDiffers || rep.Summary != (replaySummary{Replayed: 100, Same: 50, Changed: 50}) || len(rep.Calls) != 100 {
		t.Errorf("json: exit %d, summary %+v", code, rep.Summary)
	}
}

// waitStoredReplies waits, within a deadline, until the reply topic holds
// n replies to the requests stored on topic in [since, until].
func waitStoredReplies(t *testing.T, ns, topic string, since, until time.Time, n int) {
	t.Helper()
	store, err := rocketmq.OpenStore(rocketmq.Config{NameServers: []string{ns}})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	ctx := context.Background()
	reqs, _, err := storedRequests(ctx, store, topic, "", since, until)
	if err != nil || len(reqs) != n {
		t.Fatalf("%d stored requests, want %d (%v)", len(reqs), n, err)
	}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for end := time.Now().Add(30 * time.Second); ; {
		replies, err := storedReplies(ctx, store, reqs, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if len(replies) == n {
			return
		}
		if time.Now().After(end) {
			t.Fatalf("%d of %d replies stored after 30s", len(replies), n)
		}
		<-tick.C
	}
}

// countingCalc is the calculator, counting its Add calls.
type countingCalc struct {
	calculator.Server
	calls atomic.Int64
}

func (s *countingCalc) Add(ctx context.Context, a, b int) (int, error) {
	s.calls.Add(1)
	return s.Server.Add(ctx, a, b)
}

// mqrpcAt runs the command in-process on clock c.
func mqrpcAt(t *testing.T, c clock, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	e := &env{stdout: &out, stderr: &errOut, clock: c}
	code = e.run(context.Background(), args)
	return code, out.String(), errOut.String()
}

// -to sends the replays to another topic's server, and -qps spaces them
// 1/qps apart: on a clock that moves only when replay waits, every wait
// after the first send is one interval.
func TestReplayToAnotherTopicAtTheRate(t *testing.T) {
	ns := rocketmqtest.NameServer(t)
	stamp := time.Now().UnixNano()
	recorded := fmt.Sprintf("mqrpccli_replay_from_%d", stamp)
	other := fmt.Sprintf("mqrpccli_replay_to_%d", stamp)
	v1 := &countingCalc{}
	serveCalculator(t, ns, recorded, v1)
	v2 := &offByOne{}
	serveCalculator(t, ns, other, v2)

	tr, err := rocketmq.New(rocketmq.Config{NameServers: []string{ns}})
	if err != nil {
		t.Fatal(err)
	}
	c, err := runtime.NewClient(tr)
	if err != nil {
		t.Fatal(err)
	}
	calc := calculator.NewCalculatorClient(c, runtime.WithTopic(recorded), runtime.WithTimeout(10*time.Second))
	since := time.Now().Add(-time.Second)
	const n = 10
	for a := range n {
		if _, err := calc.Add(context.Background(), a, 1000); err != nil {
			t.Fatalf("Add(%d, 1000): %v", a, err)
		}
	}
	until := time.Now()
	_ = c.Close()
	_ = tr.Close()
	waitStoredReplies(t, ns, recorded, since, until, n)

	clk := newFakeClock()
	code, out, errOut := mqrpcAt(t, clk, "replay", "-namesrv", ns, "-topic", recorded, "-to", other, "-qps", "4",
		"-since", since.Format(time.RFC3339Nano), "-until", until.Format(time.RFC3339Nano))
	if code != exitReplayDiffers || !strings.HasSuffix(out, "replayed 10 calls: 5 same, 5 changed, 0 without a stored reply, 0 failed\n") {
		t.Errorf("exit %d, stdout\n%s\nstderr %s", code, out, errOut)
	}
	if got, want := v2.calls.Load(), int64(n); got != want {
		t.Errorf("the server on -to %s handled %d calls, want %d", other, got, want)
	}
	if got := v1.calls.Load(); got != n {
		t.Errorf("the server on the recorded topic handled %d calls, want only the %d recorded", got, n)
	}
	waits := clk.sleeps()
	if want := slices.Repeat([]time.Duration{250 * time.Millisecond}, n-1); !slices.Equal(waits, want) {
		t.Errorf("waits %v, want %v", waits, want)
	}
	// The progress lines read the same clock: 10 calls in 9 intervals.
	if !strings.Contains(errOut, "replayed 10/10  100%  4.4/s  took 2.3s\n") {
		t.Errorf("stderr: %s", errOut)
	}
}

func TestReplayUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"replay"},
		{"replay", "-topic", "t"},
		{"replay", "-since", "5m"},
		{"replay", "-topic", "t", "-service", "s", "-since", "5m"},
		{"replay", "-topic", "t", "-since", "yesterday"},
		{"replay", "-topic", "t", "-since", "5m", "-qps", "0"},
		{"replay", "-topic", "t", "-since", "5m", "extra"},
	} {
		if code, _, _ := mqrpc(t, args...); code != exitUsage {
			t.Errorf("%q: exit %d, want %d", args, code, exitUsage)
		}
	}
}

// Each replayed one-way call is reported with its own new call id: one-way
// calls are sent, not requested, and their ids were once taken from the
// call replayed before them.
func TestReplayNamesTheNewIDOfEachOneWayCall(t *testing.T) {
	ns := rocketmqtest.NameServer(t)
	topic := fmt.Sprintf("mqrpccli_replay_oneway_%d", time.Now().UnixNano())
	tr, err := rocketmq.New(rocketmq.Config{NameServers: []string{ns}})
	if err != nil {
		t.Fatal(err)
	}
	srv := runtime.NewServer(tr, runtime.WithServiceTopic(testservice.ProbeServiceName, topic))
	impl := &countingProbe{}
	if err := testservice.RegisterProbe(srv, impl); err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { srv.GracefulStop(); _ = tr.Close() }()
	// The server stops only once it has taken every call, replays
	// included: a consumer of rocketmq-client-go that shuts down while a
	// pull hands it messages races with that pull inside the library.
	defer func() {
		for deadline := time.Now().Add(30 * time.Second); impl.calls.Load() < 6 && time.Now().Before(deadline); {
			time.Sleep(10 * time.Millisecond) // polling for the condition, bounded
		}
	}()
	c, err := runtime.NewClient(tr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	probe := testservice.NewProbeClient(c, runtime.WithTopic(topic), runtime.WithTimeout(10*time.Second))
	ctx := context.Background()
	since := time.Now().Add(-time.Second)
	if _, err := probe.Echo(ctx, "first"); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"a", "b"} {
		if err := probe.Note(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	// Each request is stored when its call returns; whether the Echo reply
	// is stored yet does not matter here.
	until := time.Now()

	// Neither Echo nor Note is marked idempotent: -unsafe sends them.
	code, out, errOut := mqrpc(t, "replay", "-namesrv", ns, "-topic", topic, "-unsafe",
		"-since", since.Format(time.RFC3339Nano), "-until", until.Format(time.RFC3339Nano))
	if code != exitOK {
		t.Fatalf("exit %d, stdout\n%s\nstderr %s", code, out, errOut)
	}
	seen := map[string]string{} // new id -> the call it replays
	for line := range strings.Lines(out) {
		_, ids, ok := strings.Cut(line, "  call ")
		if !ok {
			continue
		}
		ids, _, _ = strings.Cut(ids, "  args")
		old, replay, ok := strings.Cut(ids, " -> ")
		if !ok || replay == "" || replay == old {
			t.Errorf("line names no new call id: %q", line)
			continue
		}
		if prev, dup := seen[replay]; dup {
			t.Errorf("new call id %s reported for %s and %s", replay, prev, old)
		}
		seen[replay] = old
	}
	if len(seen) != 3 {
		t.Errorf("%d replayed calls with distinct new ids, want 3; stdout:\n%s", len(seen), out)
	}
}

// countingProbe is the test service, counting the calls it takes.
type countingProbe struct {
	testservice.Server
	calls atomic.Int64
}

func (p *countingProbe) Echo(ctx context.Context, s string) (string, error) {
	p.calls.Add(1)
	return p.Server.Echo(ctx, s)
}

func (p *countingProbe) Note(ctx context.Context, s string) error {
	p.calls.Add(1)
	return p.Server.Note(ctx, s)
}
