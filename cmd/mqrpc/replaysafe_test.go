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

	"github.com/mqrpc/mqrpc/runtime"
	"github.com/mqrpc/mqrpc/runtime/rocketmq"
	"github.com/mqrpc/mqrpc/runtime/rocketmq/rocketmqtest"
	"github.com/mqrpc/mqrpc/testdata/golden/kinds"
	"github.com/mqrpc/mqrpc/testdata/golden/shared"
)

// kindsServer serves kinds.Kinds, counting the calls of each method. Once
// upgraded it is the next version: Struct moves the origin one to the
// right and drops the attribute "k".
type kindsServer struct {
	kinds.Echo
	mu       sync.Mutex
	calls    map[string]int
	upgraded bool
}

func (s *kindsServer) count(method string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls[method]++
}

// upgrade turns the server into the next version with no calls counted.
func (s *kindsServer) upgrade() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.upgraded, s.calls = true, map[string]int{}
}

// counts returns the calls of each method since the upgrade.
func (s *kindsServer) counts() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]int{}
	for _, m := range []string{"Struct", "Maps", "Split", "Fail", "Notify"} {
		out[m] = s.calls[m]
	}
	return out
}

func (s *kindsServer) Struct(ctx context.Context, r kinds.Record) (kinds.Record, error) {
	s.count("Struct")
	s.mu.Lock()
	upgraded := s.upgraded
	s.mu.Unlock()
	if upgraded {
		r.Origin.X++
		delete(r.Attrs, "k")
	}
	return r, nil
}

func (s *kindsServer) Maps(ctx context.Context, m map[string]int, nested map[int][]string, byPoint map[shared.Point]bool) (map[string]int, map[int][]string, map[shared.Point]bool, error) {
	s.count("Maps")
	return s.Echo.Maps(ctx, m, nested, byPoint)
}

func (s *kindsServer) Split(ctx context.Context, str string) (string, []string, int, error) {
	s.count("Split")
	return s.Echo.Split(ctx, str)
}

func (s *kindsServer) Fail(ctx context.Context, code int, msg string) error {
	s.count("Fail")
	return s.Echo.Fail(ctx, code, msg)
}

func (s *kindsServer) Notify(ctx context.Context, ev kinds.Event) error {
	s.count("Notify")
	return nil
}

// replayLines returns "outcome method" for every call line of replay's
// text output, in order.
func replayLines(out string) []string {
	var lines []string
	for line := range strings.Lines(out) {
		if !strings.Contains(line, "  call ") || strings.HasPrefix(line, " ") {
			continue
		}
		head, _, _ := strings.Cut(line, "  call ")
		f := strings.Fields(head)
		lines = append(lines, strings.Join(f[:len(f)-1], " ")+" "+f[len(f)-1])
	}
	return lines
}

// Of the kinds service, only Struct and Maps are marked mqrpc:idempotent.
// Without -unsafe, replay re-sends only those, lists the others as
// skipped, and their server sees no call; filters narrow the window; -diff
// names the values that changed.
func TestReplaySendsOnlyIdempotentMethodsUnlessUnsafe(t *testing.T) {
	ns := rocketmqtest.NameServer(t)
	srv := &kindsServer{calls: map[string]int{}}
	topic := serveOn(t, ns, kinds.KindsServiceName, func(s *runtime.Server) error { return kinds.RegisterKinds(s, srv) })

	tr, err := rocketmq.New(rocketmq.Config{NameServers: []string{ns}})
	if err != nil {
		t.Fatal(err)
	}
	c, err := runtime.NewClient(tr)
	if err != nil {
		t.Fatal(err)
	}
	client := func(key string) *kinds.KindsClient {
		return kinds.NewKindsClient(c, runtime.WithTopic(topic), runtime.WithTimeout(10*time.Second), runtime.WithKeys(key))
	}
	ctx := context.Background()
	since := time.Now().Add(-time.Second)
	if _, err := client("order-1").Struct(ctx, kinds.Record{Name: "r", Attrs: map[string]string{"k": "a", "j": "b"}, Origin: shared.Point{X: 1, Y: 2}}); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := client("order-2").Maps(ctx, map[string]int{"a": 1}, map[int][]string{1: {"x"}}, nil); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := client("order-3").Split(ctx, "abc"); err != nil {
		t.Fatal(err)
	}
	if err := client("order-4").Fail(ctx, int(runtime.InvalidArgument), "bad"); runtime.CodeOf(err) != runtime.InvalidArgument {
		t.Fatalf("Fail: %v", err)
	}
	if err := client("order-5").Notify(ctx, kinds.Event{ID: 1}); err != nil {
		t.Fatal(err)
	}
	until := time.Now()
	_ = c.Close()
	_ = tr.Close()
	ids := waitStoredCalls(t, ns, topic, since, until, 5, 4)
	srv.upgrade()
	window := []string{"-namesrv", ns, "-topic", topic, "-since", since.Format(time.RFC3339Nano), "-until", until.Format(time.RFC3339Nano)}
	replay := func(args ...string) (int, string, string) {
		t.Helper()
		return mqrpc(t, append(append([]string{"replay"}, args...), window...)...)
	}
	const (
		structM = "/kinds.Kinds/Struct"
		mapsM   = "/kinds.Kinds/Maps"
		splitM  = "/kinds.Kinds/Split"
		failM   = "/kinds.Kinds/Fail"
		notifyM = "/kinds.Kinds/Notify"
	)
	skippedTail := "skip 3 calls not marked idempotent: " + splitM + " (1), " + failM + " (1), " + notifyM + " (1); -unsafe replays them"
	wantCounts := func(want map[string]int) {
		t.Helper()
		if got := srv.counts(); !mapsEqual(got, want) {
			t.Errorf("the server handled %v, want %v", got, want)
		}
	}
	none := map[string]int{"Struct": 0, "Maps": 0, "Split": 0, "Fail": 0, "Notify": 0}

	t.Run("dry run", func(t *testing.T) {
		code, out, errOut := replay("-dry-run")
		want := []string{"would send " + structM, "would send " + mapsM, "would skip " + splitM, "would skip " + failM, "would skip " + notifyM}
		if code != exitOK || !slices.Equal(replayLines(out), want) ||
			!strings.HasSuffix(out, "would replay 2 calls; would "+skippedTail+" (dry run: nothing sent)\n") {
			t.Errorf("exit %d, stdout\n%s\nstderr %s", code, out, errOut)
		}
		wantCounts(none)
	})

	t.Run("only idempotent methods, with their changed fields", func(t *testing.T) {
		code, out, errOut := replay("-diff")
		want := []string{"changed " + structM, "same " + mapsM, "skipped " + splitM, "skipped " + failM, "skipped " + notifyM}
		if code != exitReplayDiffers || !slices.Equal(replayLines(out), want) {
			t.Errorf("exit %d, stdout\n%s\nstderr %s", code, out, errOut)
		}
		if !strings.HasSuffix(out, "replayed 2 calls: 1 same, 1 changed, 0 without a stored reply, 0 failed; skipped 3 calls not marked idempotent: "+
			splitM+" (1), "+failM+" (1), "+notifyM+" (1); -unsafe replays them\n") {
			t.Errorf("summary: %s", out)
		}
		diff := "\n    results[0].Attrs[\"k\"]: \"a\" -> (absent)\n    results[0].Origin.X: 1 -> 2\n"
		if !strings.Contains(out, diff) || strings.Contains(out, "    stored  ") {
			t.Errorf("want the changed fields only,%s in\n%s", diff, out)
		}
		// Split and Fail answer before replay goes on: had they been
		// sent, the server would have counted them by now.
		wantCounts(map[string]int{"Struct": 1, "Maps": 1, "Split": 0, "Fail": 0, "Notify": 0})

		code, out, errOut = replay("-diff", "-o", "json")
		var rep struct {
			Calls   []replayed
			Summary replaySummary
		}
		if err := json.Unmarshal([]byte(out), &rep); err != nil || code != exitReplayDiffers {
			t.Fatalf("json: exit %d, %v\n%s\n%s", code, err, out, errOut)
		}
		if rep.Summary != (replaySummary{Replayed: 2, Same: 1, Changed: 1, Skipped: 3}) || len(rep.Calls) != 5 {
			t.Errorf("json: summary %+v, %d calls", rep.Summary, len(rep.Calls))
		}
		if got := rep.Calls[0].Changes; len(got) != 2 || got[0].Path != `results[0].Attrs["k"]` || string(got[0].Stored) != `"a"` || got[0].Replay != nil ||
			got[1].Path != "results[0].Origin.X" || string(got[1].Stored) != "1" || string(got[1].Replay) != "2" {
			t.Errorf("json: changes %+v", got)
		}
		if r := rep.Calls[2]; r.Outcome != outcomeSkipped || r.SkipReason != reasonNotIdempotent || r.ReplayID != "" {
			t.Errorf("json: Split %+v", r)
		}
		wantCounts(map[string]int{"Struct": 2, "Maps": 2, "Split": 0, "Fail": 0, "Notify": 0})
	})

	t.Run("filters", func(t *testing.T) {
		for _, tt := range []struct {
			args []string
			want []string
		}{
			{[]string{"-method", "Maps"}, []string{"would send " + mapsM}},
			{[]string{"-method", "kinds.Kinds/Struct"}, []string{"would send " + structM}},
			{[]string{"-method", splitM}, []string{"would skip " + splitM}},
			{[]string{"-key", "order-1"}, []string{"would send " + structM}},
			{[]string{"-key", ids[mapsM]}, []string{"would send " + mapsM}},
			{[]string{"-key", "order-9"}, nil},
			{[]string{"-status", "invalid_argument"}, []string{"would skip " + failM}},
			{[]string{"-status", "ok"}, []string{"would send " + structM, "would send " + mapsM, "would skip " + splitM}},
			{[]string{"-status", "none"}, []string{"would skip " + notifyM}},
			{[]string{"-status", "ok", "-method", "Split"}, []string{"would skip " + splitM}},
		} {
			code, out, errOut := replay(append([]string{"-dry-run"}, tt.args...)...)
			if got := replayLines(out); code != exitOK || !slices.Equal(got, tt.want) {
				t.Errorf("%q: exit %d, got %q, want %q\n%s", tt.args, code, got, tt.want, errOut)
			}
			if !strings.Contains(errOut, fmt.Sprintf("%d of 5 stored calls match the filters", len(tt.want))) {
				t.Errorf("%q: stderr %s", tt.args, errOut)
			}
		}
		// Not dry: the filter decides what is sent.
		code, out, _ := replay("-key", "order-1")
		if code != exitReplayDiffers || !slices.Equal(replayLines(out), []string{"changed " + structM}) {
			t.Errorf("-key order-1: exit %d\n%s", code, out)
		}
		wantCounts(map[string]int{"Struct": 3, "Maps": 2, "Split": 0, "Fail": 0, "Notify": 0})

		code, _, errOut := replay("-status", "bogus")
		if code != exitUsage || !strings.Contains(errOut, `unknown status "bogus"`) {
			t.Errorf("-status bogus: exit %d, stderr %s", code, errOut)
		}
	})

	t.Run("unsafe", func(t *testing.T) {
		code, out, errOut := replay("-unsafe")
		want := []string{"changed " + structM, "same " + mapsM, "same " + splitM, "same " + failM, "no stored reply " + notifyM}
		if code != exitReplayDiffers || !slices.Equal(replayLines(out), want) ||
			!strings.HasSuffix(out, "replayed 5 calls: 3 same, 1 changed, 1 without a stored reply, 0 failed\n") {
			t.Errorf("exit %d, stdout\n%s\nstderr %s", code, out, errOut)
		}
		// Notify is one-way: its server runs it after replay returns.
		// Had an earlier run sent it, it would count two by now.
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for end := time.Now().Add(10 * time.Second); srv.counts()["Notify"] == 0 && time.Now().Before(end); {
			<-tick.C
		}
		wantCounts(map[string]int{"Struct": 4, "Maps": 3, "Split": 1, "Fail": 1, "Notify": 1})
	})

	t.Run("no server describes the methods", func(t *testing.T) {
		nobody := fmt.Sprintf("mqrpccli_nobody_%d", time.Now().UnixNano())
		code, out, errOut := replay("-dry-run", "-to", nobody)
		want := []string{"would skip " + structM, "would skip " + mapsM, "would skip " + splitM, "would skip " + failM, "would skip " + notifyM}
		if code != exitOK || !slices.Equal(replayLines(out), want) ||
			!strings.HasSuffix(out, "would replay 0 calls; would skip 5 calls of methods not known to be idempotent (no server on topic "+nobody+
				" described its methods): "+structM+" (1), "+mapsM+" (1), "+splitM+" (1), "+failM+" (1), "+notifyM+" (1); -unsafe replays them (dry run: nothing sent)\n") ||
			!strings.Contains(errOut, "no server on topic "+nobody+" described its methods") {
			t.Errorf("exit %d, stdout\n%s\nstderr %s", code, out, errOut)
		}
	})
}

func mapsEqual(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// waitStoredCalls waits, within a deadline, until topic holds reqs
// requests in [since, until] and the reply topic replies of them, and
// returns their call ids by method.
func waitStoredCalls(t *testing.T, ns, topic string, since, until time.Time, reqs, replies int) map[string]string {
	t.Helper()
	store, err := rocketmq.OpenStore(rocketmq.Config{NameServers: []string{ns}})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	ctx := context.Background()
	stored, _, err := storedRequests(ctx, store, topic, "", since, until)
	if err != nil || len(stored) != reqs {
		t.Fatalf("%d stored requests, want %d (%v)", len(stored), reqs, err)
	}
	ids := map[string]string{}
	for _, m := range stored {
		ids[m.Properties[runtime.PropMethod]] = callID(m)
	}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for end := time.Now().Add(30 * time.Second); ; {
		got, err := storedReplies(ctx, store, stored, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if len(got) == replies {
			return ids
		}
		if time.Now().After(end) {
			t.Fatalf("%d of %d replies stored after 30s", len(got), replies)
		}
		<-tick.C
	}
}
