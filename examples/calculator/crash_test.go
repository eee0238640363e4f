//go:build brokerfaults

package main

// A server process SIGKILLed in the middle of a load of calls and
// restarted: how many handlers run twice, with and without a dedup store
// the two lives share (Redis). It needs the broker's name server in
// MQRPC_NAMESRV and, for the shared store, Redis in MQRPC_REDIS
// (tools/with-broker.sh starts both); under CI=true it fails rather than
// skips without them. Run it with
//
//	go test -tags brokerfaults -run SIGKILL ./examples/calculator/
//
// The server process is this test binary run again with
// MQRPC_TEST_CRASH_SERVER set (see init): each run of its Add appends the
// call id to a file, so that the test can count the calls run twice.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mqrpc/mqrpc/examples/calculator/calculator"
	"github.com/mqrpc/mqrpc/internal/testenv"
	"github.com/mqrpc/mqrpc/runtime"
	"github.com/mqrpc/mqrpc/runtime/redisdedup"
	"github.com/mqrpc/mqrpc/runtime/rocketmq"
	"github.com/mqrpc/mqrpc/runtime/rocketmq/rocketmqtest"
)

const (
	envCrashServer = "MQRPC_TEST_CRASH_SERVER" // topic the crash test's server process serves
	envRunsFile    = "MQRPC_TEST_RUNS_FILE"    // file the server process appends each run's call id to
	envDedupPrefix = "MQRPC_TEST_DEDUP_PREFIX" // Redis key prefix of the shared store; none when empty
)

func init() {
	topic := os.Getenv(envCrashServer)
	if topic == "" {
		return
	}
	if err := serveRecording(topic); err != nil {
		fmt.Fprintln(os.Stderr, "server process:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// serveRecording is the server process of the crash test: a calculator
// whose Add records each run, with the shared store when a prefix is
// given. It prints "ready", then every 100 ms a "stats" line when its
// counters changed.
func serveRecording(topic string) error {
	runs, err := os.OpenFile(os.Getenv(envRunsFile), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	tr, err := rocketmq.New(rocketmq.Config{NameServers: []string{os.Getenv("MQRPC_NAMESRV")}})
	if err != nil {
		return err
	}
	opts := []runtime.ServerOption{runtime.WithServiceTopic(calculator.CalculatorServiceName, topic)}
	if prefix := os.Getenv(envDedupPrefix); prefix != "" {
		rdb := redis.NewClient(&redis.Options{Addr: os.Getenv("MQRPC_REDIS")})
		opts = append(opts, runtime.WithDedupStore(redisdedup.New(rdb, redisdedup.WithPrefix(prefix))))
	}
	srv := runtime.NewServer(tr, opts...)
	if err := calculator.RegisterCalculator(srv, recordingCalculator{runs: runs}); err != nil {
		return err
	}
	if err := srv.Start(); err != nil {
		return err
	}
	fmt.Println("ready")
	var last string
	for range time.Tick(100 * time.Millisecond) {
		st := srv.Stats()
		line := fmt.Sprintf("stats duplicates=%d dead_lettered=%d expired=%d",
			st.Duplicates, st.DeadLettered, st.Expired)
		if line != last {
			fmt.Println(line)
			last = line
		}
	}
	return nil
}

// recordingCalculator's Add appends the call id to runs, in one write that
// a SIGKILL cannot split, before it does its (short) work.
type recordingCalculator struct {
	calculator.Server
	runs *os.File
}

func (c recordingCalculator) Add(ctx context.Context, a, b int) (int, error) {
	ci, _ := runtime.CallInfoFromContext(ctx)
	if _, err := c.runs.WriteString(ci.ID + "\n"); err != nil {
		return 0, err
	}
	time.Sleep(2 * time.Millisecond) // work, so that calls are in flight when the process dies
	return c.Server.Add(ctx, a, b)
}

// startRecordingServer runs serveRecording in a child process and waits
// until it is subscribed.
func startRecordingServer(t *testing.T, env ...string) *serverProcess {
	t.Helper()
	return runServerProcess(t, env...)
}

// lastLine returns the last line the process printed.
func (p *serverProcess) lastLine() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.lines) == 0 {
		return ""
	}
	return p.lines[len(p.lines)-1]
}

// countRuns reads the runs file: how many runs, how many call ids ran more
// than once.
func countRuns(t *testing.T, path string) (runs, twice int) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	by := map[string]int{}
	for line := range strings.Lines(string(b)) {
		by[strings.TrimSuffix(line, "\n")]++
		runs++
	}
	for _, n := range by {
		if n > 1 {
			twice++
		}
	}
	return runs, twice
}

// TestSIGKILLMidLoad sends 5,000 calls from 64 goroutines; after 1,500
// have been answered the server process is SIGKILLed and started again.
// With the shared store no handler runs twice (the calls the killed server
// was running end in the dead-letter queue, and their callers get
// DeadlineExceeded); without it, the double runs are counted and reported.
func TestSIGKILLMidLoad(t *testing.T) {
	ns := rocketmqtest.NameServer(t)
	for _, shared := range []bool{false, true} {
		name := "memory_only"
		if shared {
			name = "shared_store"
		}
		t.Run(name, func(t *testing.T) {
			var env []string
			if shared {
				addr := os.Getenv("MQRPC_REDIS")
				if addr == "" {
					testenv.Missing(t, "MQRPC_REDIS is not set; run tools/redis/redis.sh up and export MQRPC_REDIS=127.0.0.1:6379 (tools/with-broker.sh does both)")
				}
				env = append(env, envDedupPrefix+"="+fmt.Sprintf("mqrpc-crash-test:%d:", time.Now().UnixNano()))
			}
			crashUnderLoad(t, ns, shared, env)
		})
	}
}

func crashUnderLoad(t *testing.T, ns string, shared bool, env []string) {
	const (
		calls, workers, killAfter = 5_000, 64, 1_500
		callTimeout               = 20 * time.Second
	)
	topic := uniqueTopic(t)
	runsFile := filepath.Join(t.TempDir(), "runs")
	env = append(env, envCrashServer+"="+topic, envRunsFile+"="+runsFile, "MQRPC_NAMESRV="+ns)
	start := time.Now()
	srv := startRecordingServer(t, env...)
	calc, client := newClient(t, topic)

	var answered atomic.Int64
	killNow := make(chan struct{})
	var killOnce sync.Once
	var mu sync.Mutex
	failures := map[runtime.Code]int{}
	var failed []error
	next := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := range next {
				ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
				sum, err := calc.Add(ctx, i, 1)
				cancel()
				if err == nil && sum != i+1 {
					err = fmt.Errorf("Add(%d, 1) = %d", i, sum)
				}
				if err != nil {
					mu.Lock()
					failures[runtime.CodeOf(err)]++
					if runtime.CodeOf(err) != runtime.DeadlineExceeded {
						failed = append(failed, err)
					}
					mu.Unlock()
					continue
				}
				if answered.Add(1) == killAfter {
					killOnce.Do(func() { close(killNow) })
				}
			}
		})
	}
	go func() {
		for i := range calls {
			next <- i
		}
		close(next)
	}()
	allDone := make(chan struct{})
	go func() { wg.Wait(); close(allDone) }()
	// The kill comes while calls are being sent; the scenario: the server
	// is back 2 s later, while the load goes on.
	select {
	case <-killNow:
	case <-allDone:
		t.Fatalf("only %d calls answered; the server was never killed", answered.Load())
	}
	srv.kill() // SIGKILL, and waits until the process is gone
	<-time.After(2 * time.Second)
	restarted := startRecordingServer(t, env...)
	<-allDone
	elapsed := time.Since(start)

	// Every call has ended: answered, or failed at its deadline. The
	// redeliveries the restarted server took at its start were handled
	// well before those deadlines; still, its counters must be at rest
	// before the runs are counted.
	quiet, last := time.Now(), restarted.lastLine()
	for time.Since(quiet) < time.Second {
		if l := restarted.lastLine(); l != last {
			quiet, last = time.Now(), l
		}
		if time.Since(start) > 5*time.Minute {
			t.Fatal("the restarted server's counters never came to rest")
		}
		time.Sleep(50 * time.Millisecond)
	}
	runs, twice := countRuns(t, runsFile)
	dead := countDeadLetters(t, ns, runtime.GroupFor(topic), start)
	mu.Lock()
	defer mu.Unlock()
	t.Logf("shared store %v: %d calls, %d answered, failed %v; %d handler runs, %d calls ran twice; %d dead letters; restarted server: %q; %v",
		shared, calls, answered.Load(), failures, runs, twice, dead, last, elapsed.Round(time.Millisecond))
	for _, err := range failed {
		t.Errorf("call failed with other than DeadlineExceeded: %v", err)
	}
	if n := client.Stats().Pending; n != 0 {
		t.Errorf("client has %d calls pending", n)
	}
	if shared && twice != 0 {
		t.Errorf("%d calls ran their handler twice with the shared store", twice)
	}
	// Only the calls the killed server had taken can fail: those it was
	// running (dead-lettered with the shared store), and those it had run
	// but not answered.
	if n := failures[runtime.DeadlineExceeded]; n > workers || dead > workers {
		t.Errorf("%d calls failed at their deadline and %d were dead-lettered; the killed server held at most %d", n, dead, workers)
	}
}

// countDeadLetters counts the messages in the dead-letter queue of group
// stored since.
func countDeadLetters(t *testing.T, ns, group string, since time.Time) int {
	t.Helper()
	store, err := rocketmq.OpenStore(rocketmq.Config{NameServers: []string{ns}})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	n := 0
	err = store.Scan(context.Background(), rocketmq.DeadLetterTopic(group), since, time.Now(), func(*rocketmq.StoredMessage) error {
		n++
		return nil
	})
	if err != nil && !errors.Is(err, context.Canceled) {
		// No dead letter yet: the broker creates the topic with the first.
		t.Logf("dead-letter queue of %s: %v", group, err)
	}
	return n
}
