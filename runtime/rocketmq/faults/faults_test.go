//go:build brokerfaults

package faults_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/mqrpc/mqrpc/examples/calculator/calculator"
	"github.com/mqrpc/mqrpc/runtime"
	"github.com/mqrpc/mqrpc/runtime/rocketmq"
	"github.com/mqrpc/mqrpc/runtime/rocketmq/rocketmqtest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, rocketmqtest.IgnoreLibraryGoroutines()...)
}

var brokers = []string{"broker-a", "broker-b"}

// brokerScript runs tools/rocketmq/broker.sh with args.
func brokerScript(t *testing.T, args ...string) {
	t.Helper()
	script := os.Getenv("MQRPC_BROKER_SCRIPT")
	if script == "" {
		script = filepath.Join("..", "..", "..", "tools", "rocketmq", "broker.sh")
	}
	cmd := exec.Command(script, args...)
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("broker.sh %v: %v", args, err)
	}
}

// A client and server keep their transports while every broker of the
// cluster is killed and restarted: calls fail fast while the brokers are
// down, and succeed again soon after they are back, with no restart of
// either process.
func TestBrokersKilledAndRestarted(t *testing.T) {
	addr := rocketmqtest.NameServer(t)
	newTransport := func() *rocketmq.Transport {
		tr, err := rocketmq.New(rocketmq.Config{NameServers: []string{addr}})
		if err != nil {
			t.Fatalf("rocketmq.New: %v", err)
		}
		t.Cleanup(func() { _ = tr.Close() })
		return tr
	}
	topic := fmt.Sprintf("faults_calc_%d", time.Now().UnixNano())
	srv := runtime.NewServer(newTransport(), runtime.WithServiceTopic(calculator.CalculatorServiceName, topic))
	if err := calculator.RegisterCalculator(srv, calculator.Server{}); err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	client, err := runtime.NewClient(newTransport(), runtime.WithCallOptions(runtime.WithTopic(topic)))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	calc := calculator.NewCalculatorClient(client)

	add := func(timeout time.Duration) error {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		sum, err := calc.Add(ctx, 20, 22)
		if err == nil && sum != 42 {
			t.Fatalf("Add = %d, want 42", sum)
		}
		return err
	}
	if err := add(30 * time.Second); err != nil {
		t.Fatalf("call before the brokers die: %v", err)
	}

	restarted := false
	t.Cleanup(func() {
		if !restarted {
			for _, b := range brokers {
				brokerScript(t, "start-broker", b)
			}
		}
	})
	for _, b := range brokers {
		brokerScript(t, "stop-broker", b, "--kill")
	}

	// A killed broker's port refuses connections at once, so each of the
	// send's three attempts fails at once: the call fails in about a
	// millisecond. A second leaves room for a loaded machine and is still
	// well under one attempt's SendTimeout (3 s), which a send that waited
	// for an answer, or a call that waited for its deadline, would take.
	const timeout, failFast = 10 * time.Second, time.Second
	start := time.Now()
	err = add(timeout)
	if code := runtime.CodeOf(err); code != runtime.Unavailable {
		t.Fatalf("call with every broker down: %v (code %v), want Unavailable", err, code)
	}
	took := time.Since(start)
	t.Logf("call with every broker down failed in %v", took)
	if took > failFast {
		t.Errorf("call with every broker down took %v to fail; it must fail fast (within %v), not at its %v deadline", took, failFast, timeout)
	}

	for _, b := range brokers {
		brokerScript(t, "start-broker", b)
	}
	restarted = true
	ready := time.Now()
	// A call fails at once while its send is refused, so attempts are
	// paced rather than run back to back against the recovering brokers.
	pace := time.NewTicker(250 * time.Millisecond)
	defer pace.Stop()
	for {
		err := add(3 * time.Second)
		if err == nil {
			t.Logf("calls succeed again %v after the brokers are back", time.Since(ready).Round(time.Millisecond))
			break
		}
		if time.Since(ready) > 30*time.Second {
			t.Fatalf("calls still fail 30s after the brokers restarted: %v", err)
		}
		<-pace.C
	}
	if err := add(10 * time.Second); err != nil {
		t.Fatalf("call after recovery: %v", err)
	}
}

// A broker that joins the cluster after a client started is heartbeated by
// it within Config.HeartbeatInterval: the servers spread replies over every
// broker of the cluster, so the client must be known to the new one too,
// or the replies sent through it are lost.
func TestBrokerJoinsAfterClient(t *testing.T) {
	addr := rocketmqtest.NameServer(t)
	const heartbeat = 2 * time.Second
	cfg := rocketmq.Config{NameServers: []string{addr}, HeartbeatInterval: heartbeat}
	newTransport := func() *rocketmq.Transport {
		tr, err := rocketmq.New(cfg)
		if err != nil {
			t.Fatalf("rocketmq.New: %v", err)
		}
		t.Cleanup(func() { _ = tr.Close() })
		return tr
	}

	joined := false
	t.Cleanup(func() {
		if !joined {
			brokerScript(t, "start-broker", "broker-b")
		}
	})
	brokerScript(t, "stop-broker", "broker-b", "--kill")
	// The name server drops a broker when its connection closes, a moment
	// after the process dies. Until then a new client would still learn
	// the dead broker-b from the name server and keep heartbeating it, and
	// the test would prove nothing. Creating a topic on every broker the
	// name server routes fails while that includes the dead one.
	topic := fmt.Sprintf("faults_join_%d", time.Now().UnixNano())
	waitFor(t, 30*time.Second, "the name server to drop the killed broker-b", func() error {
		probe, err := rocketmq.New(cfg)
		if err != nil {
			return err
		}
		defer probe.Close()
		return probe.CreateTopic(topic)
	})

	srv := runtime.NewServer(newTransport(), runtime.WithServiceTopic(calculator.CalculatorServiceName, topic))
	if err := calculator.RegisterCalculator(srv, calculator.Server{}); err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	var (
		mu  sync.Mutex
		ids []string // call ids of the batch in progress
	)
	recordID := func(ctx context.Context, method string, args, results any, invoke runtime.Invoker) error {
		err := invoke(ctx, method, args, results)
		if info, ok := runtime.CallInfoFromContext(ctx); ok {
			mu.Lock()
			ids = append(ids, info.ID)
			mu.Unlock()
		}
		return err
	}
	client, err := runtime.NewClient(newTransport(), runtime.WithClientInterceptors(recordID),
		runtime.WithCallOptions(runtime.WithTopic(topic), runtime.WithTimeout(3*time.Second)))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	calc := calculator.NewCalculatorClient(client)
	// batch makes calls at once, enough for the replies to use every
	// queue of the reply topic on each broker, and returns their ids and
	// the first failure.
	batch := func(round int) ([]string, error) {
		mu.Lock()
		ids = nil
		mu.Unlock()
		const calls = 32
		errs := make([]error, calls)
		var wg sync.WaitGroup
		for i := range calls {
			wg.Go(func() {
				a := round*1_000 + i
				sum, err := calc.Add(context.Background(), a, 1)
				if err == nil && sum != a+1 {
					err = fmt.Errorf("Add(%d, 1) = %d", a, sum)
				}
				errs[i] = err
			})
		}
		wg.Wait()
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(ids), errors.Join(errs...)
	}
	if _, err := batch(0); err != nil {
		t.Fatalf("calls with broker-a alone: %v", err)
	}

	brokerScript(t, "start-broker", "broker-b")
	joined = true
	since := time.Now()
	store, err := rocketmq.OpenStore(rocketmq.Config{NameServers: []string{addr}})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	// stored returns, for each call id of ids, the brokers that stored a
	// reply to it. A broker that does not know the client stores the reply,
	// fails to push it and answers the server with an error, and the server
	// sends the reply again through another broker: so a reply stored once
	// was pushed by the broker that stored it.
	stored := func(ids []string) (map[string][]string, error) {
		by := map[string][]string{}
		for _, id := range ids {
			by[id] = nil
		}
		err := store.Scan(context.Background(), store.ReplyTopic(), since, time.Now(), func(m *rocketmq.StoredMessage) error {
			if b, ours := by[m.Key]; ours {
				by[m.Key] = append(b, m.Broker)
			}
			return nil
		})
		return by, err
	}
	// check returns why the replies of ids do not show the client known to
	// both brokers, or nil when each was pushed by the one broker that
	// stored it and both brokers pushed some.
	check := func(ids []string) error {
		// A broker indexes a stored message for reads a moment after the
		// push: look again until every reply shows.
		var by map[string][]string
		waitFor(t, 10*time.Second, "the replies to show in the store", func() error {
			var err error
			if by, err = stored(ids); err != nil {
				return err
			}
			for id, brokers := range by {
				if len(brokers) == 0 {
					return fmt.Errorf("no stored reply to call %s", id)
				}
			}
			return nil
		})
		pushed := map[string]int{}
		for id, brokers := range by {
			if len(brokers) != 1 {
				return fmt.Errorf("the reply to call %s was stored by %v: a broker could not push it", id, brokers)
			}
			pushed[brokers[0]]++
		}
		if pushed["broker-a"] == 0 || pushed["broker-b"] == 0 {
			return fmt.Errorf("all calls succeeded, with replies pushed by %v only", pushed)
		}
		t.Logf("replies pushed per broker: %v", pushed)
		return nil
	}
	// The client and the server learn of broker-b within one heartbeat
	// interval of each other; until the client has registered there,
	// broker-b cannot push the replies it gets, and the server resends
	// them through broker-a (or they are lost, when its retries run out).
	// Within a few intervals a whole batch must succeed with replies pushed
	// by both brokers. (The library's own route refresh, every 30 s, is no
	// part of this: the test must not pass by waiting for it.)
	const patience = 5 * heartbeat
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for round := 1; ; round++ {
		ids, err := batch(round)
		if err == nil {
			if err = check(ids); err == nil {
				t.Logf("a whole batch succeeded through both brokers %v after broker-b joined (round %d)",
					time.Since(since).Round(time.Millisecond), round)
				break
			}
		}
		t.Logf("round %d: %v", round, err)
		if time.Since(since) > patience {
			t.Fatalf("%v after broker-b joined, calls spread over both brokers still do not all succeed through the broker that stored their reply: %v", patience, err)
		}
		<-tick.C
	}
}

// waitFor calls try, paced, until it succeeds, and fails the test when it
// has not after patience.
func waitFor(t *testing.T, patience time.Duration, what string, try func() error) {
	t.Helper()
	deadline := time.Now().Add(patience)
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		err := try()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s: %v", patience, what, err)
		}
		<-tick.C
	}
}
