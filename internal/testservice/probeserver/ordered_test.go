package main_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mqrpc/mqrpc/internal/testservice"
	"github.com/mqrpc/mqrpc/runtime"
	"github.com/mqrpc/mqrpc/runtime/rocketmq"
	"github.com/mqrpc/mqrpc/runtime/rocketmq/rocketmqtest"
)

// TestOrderedCallsSurviveServerKill needs MQRPC_NAMESRV. Four clients send
// 50 calls on each of 20 order keys, each call as soon as the one before it
// of its key and client is stored, to a server process that is SIGKILLed a
// third of the way through and started again. Every call succeeds; each
// server process runs every key's calls of a client in the order sent; the
// restarted one resumes each key where the broker's acknowledged offset
// left it, so that no call is skipped, and the only calls run twice are
// those the killed process ran and had not acknowledged (RocketMQ delivers
// at least once; a shared runtime.DedupStore would keep them from running
// again).
func TestOrderedCallsSurviveServerKill(t *testing.T) {
	const clients, keys, calls = 4, 20, 50
	namesrv := rocketmqtest.NameServer(t)
	topic := fmt.Sprintf("probe_ordered_%d", time.Now().UnixNano())
	bin := buildProbeServer(t)
	stepLog := filepath.Join(t.TempDir(), "steps")
	srv := runProbeServer(t, bin, "-namesrv", namesrv, "-topic", topic, "-ordered", "-steplog", stepLog)

	probes := make([]*runtime.Client, clients)
	for c := range probes {
		tr, err := rocketmq.New(rocketmq.Config{NameServers: []string{namesrv}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = tr.Close() })
		client, err := runtime.NewClient(storeNotifier{tr}, runtime.WithCallOptions(runtime.WithTopic(topic)))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = client.Close() })
		probes[c] = client
	}

	// A server that died holds its queues' locks until the broker lets
	// them expire, 60 s by default: the calls wait out that and more.
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	var done atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, clients*keys*calls)
	for c := range clients {
		for k := range keys {
			key := fmt.Sprintf("key-%d", k)
			probe := testservice.NewProbeClient(probes[c], runtime.WithOrderKey(key), runtime.WithTimeout(3*time.Minute))
			wg.Add(1)
			go func() {
				defer wg.Done()
				var pending []<-chan error
				for i := range calls {
					stored := make(chan struct{})
					res := make(chan error, 1)
					go func() {
						err := probe.Step(context.WithValue(ctx, storedKey{}, stored), key, c, i)
						if err == nil {
							done.Add(1)
						}
						res <- err
					}()
					select {
					case <-stored:
					case err := <-res:
						errs <- fmt.Errorf("call %s/%d/%d not stored: %w", key, c, i, err)
						return
					}
					pending = append(pending, res)
				}
				for i, res := range pending {
					if err := <-res; err != nil {
						errs <- fmt.Errorf("call %s/%d/%d: %w", key, c, i, err)
					}
				}
			}()
		}
	}
	// The kill comes a third of the way through, while many calls of
	// every key wait in the queues.
	killAt := int64(clients * keys * calls / 3)
	tick := time.NewTicker(10 * time.Millisecond)
	for done.Load() < killAt && ctx.Err() == nil {
		<-tick.C
	}
	tick.Stop()
	srv.kill(t)
	killedAt := time.Now()
	runProbeServer(t, bin, "-namesrv", namesrv, "-topic", topic, "-ordered", "-steplog", stepLog)
	wg.Wait()
	t.Logf("the calls ended %v after the kill", time.Since(killedAt).Round(time.Second))
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	f, err := os.Open(stepLog)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	type stream struct {
		key    string
		client int
	}
	type run struct{ seq, pid int }
	runs := make(map[stream][]run)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var s stream
		var r run
		if _, err := fmt.Sscanf(sc.Text(), "%s %d %d %d", &s.key, &s.client, &r.seq, &r.pid); err != nil {
			t.Fatalf("step log line %q: %v", sc.Text(), err)
		}
		runs[s] = append(runs[s], r)
	}
	if len(runs) != clients*keys {
		t.Fatalf("step log has %d key/client streams, want %d", len(runs), clients*keys)
	}
	pids := make(map[int]bool)
	again := 0
	for s, rs := range runs {
		last := make(map[int]int) // pid -> last seq it ran
		seen := make(map[int]int)
		for _, r := range rs {
			pids[r.pid] = true
			if l, ok := last[r.pid]; ok && r.seq <= l {
				t.Fatalf("key %s client %d: process %d ran call %d after call %d", s.key, s.client, r.pid, r.seq, l)
			}
			last[r.pid] = r.seq
			seen[r.seq]++
		}
		for i := range calls {
			switch n := seen[i]; {
			case n == 0:
				t.Fatalf("key %s client %d: call %d never ran", s.key, s.client, i)
			case n > 2:
				t.Fatalf("key %s client %d: call %d ran %d times", s.key, s.client, i, n)
			case n == 2:
				again++
			}
		}
	}
	if len(pids) != 2 {
		t.Fatalf("calls ran in %d server processes, want 2 (the killed one and its successor)", len(pids))
	}
	t.Logf("%d of %d calls ran again after the kill (delivered at least once)", again, clients*keys*calls)
}

// storedKey is the context key under which a test asks storeNotifier to
// say that a request is stored.
type storedKey struct{}

// storeNotifier closes the channel on a Request's context once the request
// is stored, so that a test sends the next call of a key knowing the order
// in which the broker stored them.
type storeNotifier struct{ *rocketmq.Transport }

func (n storeNotifier) Request(ctx context.Context, m *runtime.Message) error {
	err := n.Transport.Request(ctx, m)
	if ch, ok := ctx.Value(storedKey{}).(chan struct{}); ok && err == nil {
		close(ch)
	}
	return err
}
