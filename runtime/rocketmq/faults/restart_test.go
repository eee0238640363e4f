//go:build brokerfaults

package faults_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/mqrpc/mqrpc/examples/calculator/calculator"
	"github.com/mqrpc/mqrpc/runtime"
	"github.com/mqrpc/mqrpc/runtime/rocketmq"
	"github.com/mqrpc/mqrpc/runtime/rocketmq/rocketmqtest"
)

// A cluster of one broker, killed under a steady load of calls and
// restarted, three times: the server pulls its queues again, and the client
// gets its replies, within moments of the broker's port reopening, so that
// a call sent 2 s after it reopened succeeds.
func TestBrokerRestartUnderLoadOneBroker(t *testing.T) {
	addr := rocketmqtest.NameServer(t)
	// broker-b is down for the whole test, and the name server must have
	// dropped it before the transports start: see TestBrokerJoinsAfterClient.
	t.Cleanup(func() { brokerScript(t, "start-broker", "broker-b") })
	brokerScript(t, "stop-broker", "broker-b", "--kill")
	cfg := rocketmq.Config{NameServers: []string{addr}}
	topic := fmt.Sprintf("faults_restart1_%d", time.Now().UnixNano())
	waitFor(t, 30*time.Second, "the name server to drop the killed broker-b", func() error {
		probe, err := rocketmq.New(cfg)
		if err != nil {
			return err
		}
		defer probe.Close()
		return probe.CreateTopic(topic)
	})
	restartUnderLoad(t, cfg, topic, "broker-a")
}

// A cluster of two brokers, one of them killed under a steady load of calls
// and restarted, three times: calls go on through the other broker while it
// is down, and once its port reopens the client sends to it again and the
// server pulls its queues again at once, so that the requests stored on it
// do not wait for the server.
func TestBrokerRestartUnderLoadTwoBrokers(t *testing.T) {
	addr := rocketmqtest.NameServer(t)
	cfg := rocketmq.Config{NameServers: []string{addr}}
	topic := fmt.Sprintf("faults_restart2_%d", time.Now().UnixNano())
	restartUnderLoad(t, cfg, topic, "broker-a")
}

// Bounds of the restart tests.
const (
	restartCycles = 3
	// loadEvery paces the calls of the load: 40 a second.
	loadEvery = 25 * time.Millisecond
	// callTimeout is each call's deadline.
	callTimeout = 10 * time.Second
	// settleAfterOpen is how long after the port reopened a call must
	// succeed: the broker's own boot goes on for a moment after it
	// listens, and the client and server must find it again.
	settleAfterOpen = 2 * time.Second
	// watchAfterOpen is how long after the port reopened calls are
	// counted, before the next cycle kills the broker again.
	watchAfterOpen = 8 * time.Second
	// maxQueueWait bounds how long a request stored after the port
	// reopened may wait for the server to pull it. The aim is 2 s, and
	// the server pulls again as soon as the broker has taken its
	// heartbeat and answered the rebalance's offset queries; but a broker
	// that has just started answers its first requests slowly on a loaded
	// machine (a second or two with ten brokers on two cores, where the
	// longest waits measured were 0.2-2.5 s, the more the busier the
	// machine). Without the transport's recovery the server resumes up to
	// 33 s after the kill, and the requests expire unrun.
	maxQueueWait = 5 * time.Second
	// loadLimit ends the load by itself, should the test not.
	loadLimit = 10 * time.Minute
)

// restartUnderLoad serves topic and calls it at a steady pace while victim
// is killed and restarted restartCycles times. Each cycle it reports how
// soon after the victim's port reopened a call succeeded and how long the
// requests the victim stored waited for the server, and it fails when a
// call sent settleAfterOpen after the port reopened fails, or a request
// stored on the victim after it reopened waited longer than maxQueueWait.
func restartUnderLoad(t *testing.T, cfg rocketmq.Config, topic, victim string) {
	victimAddr := brokerAddr(t, cfg.NameServers[0], victim)
	newTransport := func() *rocketmq.Transport {
		tr, err := rocketmq.New(cfg)
		if err != nil {
			t.Fatalf("rocketmq.New: %v", err)
		}
		t.Cleanup(func() { _ = tr.Close() })
		return tr
	}
	served := &servedCalls{byID: map[string]runtime.CallInfo{}}
	srv := runtime.NewServer(newTransport(),
		runtime.WithServiceTopic(calculator.CalculatorServiceName, topic),
		runtime.WithServerInterceptors(served.record))
	if err := calculator.RegisterCalculator(srv, calculator.Server{}); err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	client, err := runtime.NewClient(newTransport(),
		runtime.WithCallOptions(runtime.WithTopic(topic), runtime.WithTimeout(callTimeout)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Close() })
	calc := calculator.NewCalculatorClient(client)
	if _, err := calc.Add(context.Background(), 1, 2); err != nil {
		t.Fatalf("call before the restarts: %v", err)
	}

	restarted := true
	t.Cleanup(func() {
		if !restarted {
			brokerScript(t, "start-broker", victim)
		}
	})
	ld := startLoad(calc)
	t.Cleanup(ld.stop)
	since := time.Now()
	var opened, killed []time.Time // when the victim's port reopened, and when it was killed, per cycle
	for cycle := 1; cycle <= restartCycles; cycle++ {
		restarted = false
		killed = append(killed, time.Now())
		brokerScript(t, "stop-broker", victim, "--kill")
		started := make(chan error, 1)
		go func() { started <- runBrokerScript("start-broker", victim) }()
		open := waitForPort(t, victimAddr, started)
		if err := <-started; err != nil {
			ld.stop()
			t.Fatalf("broker.sh start-broker %s: %v", victim, err)
		}
		restarted = true
		opened = append(opened, open)
		t.Logf("cycle %d: %s's port reopened %v after the kill", cycle, victim, open.Sub(killed[cycle-1]).Round(time.Millisecond))
		// The calls of this cycle's watch end at their deadlines at the
		// latest; the next kill must not be what fails them.
		ld.awaitSentBefore(t, open.Add(watchAfterOpen))
	}
	ld.stop()
	killed = append(killed, time.Now())

	stored := storedOn(t, cfg, topic, since, victim)
	failed := 0
	for cycle, open := range opened {
		r := ld.summary(open, killed[cycle+1])
		waits := served.waits(stored, open, open.Add(watchAfterOpen))
		first := "none before the next kill"
		if r.firstSuccess >= 0 {
			first = fmt.Sprintf("%v after the port reopened", r.firstSuccess)
		}
		t.Logf("cycle %d: first success %s; calls sent in the first %v: %d, failed %d; "+
			"sent later: %d, failed %d; requests stored on %s after it reopened: %d, longest wait for the server %v, not run %d",
			cycle+1, first, settleAfterOpen, r.early, r.earlyFailed, r.late, len(r.lateFailed),
			victim, waits.n, waits.longest, waits.notRun)
		failed += len(r.lateFailed)
		for i, err := range r.lateFailed {
			if i == 5 {
				t.Errorf("cycle %d: ... and %d more", cycle+1, len(r.lateFailed)-i)
				break
			}
			t.Errorf("cycle %d: call sent %v after the port reopened failed: %v", cycle+1, err.after, err.err)
		}
		if waits.n == 0 {
			// Then the test proves nothing of the server; and the client
			// must use the broker again once it is back.
			t.Errorf("cycle %d: no request was stored on the restarted %s in the %v after its port reopened", cycle+1, victim, watchAfterOpen)
		}
		if waits.longest > maxQueueWait || waits.notRun > 0 {
			t.Errorf("cycle %d: requests stored on the restarted %s waited up to %v for the server (%d never run); want at most %v",
				cycle+1, victim, waits.longest, waits.notRun, maxQueueWait)
		}
	}
	if failed > 0 {
		t.Errorf("%d calls sent %v or more after %s's port reopened failed; want none", failed, settleAfterOpen, victim)
	}
}

// brokerAddr returns the address of the named broker of the local cluster
// whose name server is at nameServer. broker.sh adds one port offset to
// all its ports: the name server's 9876, broker-a's 10911 and broker-b's
// 10921.
func brokerAddr(t *testing.T, nameServer, name string) string {
	t.Helper()
	_, p, err := net.SplitHostPort(nameServer)
	if err != nil {
		t.Fatalf("name server address %q: %v", nameServer, err)
	}
	port, err := strconv.Atoi(p)
	if err != nil {
		t.Fatalf("name server address %q: %v", nameServer, err)
	}
	base := map[string]int{"broker-a": 10911, "broker-b": 10921}[name]
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(port-9876+base))
}

// runBrokerScript is brokerScript for a goroutine other than the test's.
func runBrokerScript(args ...string) error {
	script := os.Getenv("MQRPC_BROKER_SCRIPT")
	if script == "" {
		script = filepath.Join("..", "..", "..", "tools", "rocketmq", "broker.sh")
	}
	cmd := exec.Command(script, args...)
	cmd.Stderr = os.Stderr
	return cmd.Run()
}

// waitForPort polls addr until it accepts a connection, and returns when it
// first did. It fails the test if start delivers an error first, or after
// two minutes; whatever start delivers is left in it for the caller.
func waitForPort(t *testing.T, addr string, start chan error) time.Time {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	pending := start
	for {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			at := time.Now()
			_ = c.Close()
			return at
		}
		if time.Now().After(deadline) {
			t.Fatalf("port %s not open after 2 minutes", addr)
		}
		select {
		case err := <-pending:
			start <- err
			if err != nil {
				t.Fatalf("broker at %s did not start: %v", addr, err)
			}
			pending = nil // started: only the port is awaited now
		case <-tick.C:
		}
	}
}

// servedCalls records what the server knew of each call it ran.
type servedCalls struct {
	mu   sync.Mutex
	byID map[string]runtime.CallInfo
}

func (s *servedCalls) record(ctx context.Context, args any, info *runtime.UnaryServerInfo, h runtime.UnaryHandler) (any, error) {
	if ci, ok := runtime.CallInfoFromContext(ctx); ok {
		s.mu.Lock()
		if _, seen := s.byID[ci.ID]; !seen { // a redelivery does not count
			s.byID[ci.ID] = ci
		}
		s.mu.Unlock()
	}
	return h(ctx, args)
}

// queueWaits sums up how long requests waited for the server.
type queueWaits struct {
	n       int
	longest time.Duration
	notRun  int
}

// waits returns how long the requests of stored (call id -> store time)
// that were stored in [from, to] waited between their store and the server
// taking them.
func (s *servedCalls) waits(stored map[string]time.Time, from, to time.Time) queueWaits {
	s.mu.Lock()
	defer s.mu.Unlock()
	var w queueWaits
	for id, at := range stored {
		if at.Before(from) || at.After(to) {
			continue
		}
		w.n++
		ci, ok := s.byID[id]
		if !ok {
			w.notRun++
			continue
		}
		w.longest = max(w.longest, ci.RequestReceived.Sub(at))
	}
	return w
}

// storedOn returns the store time of each request of topic stored on broker
// since then, by call id.
func storedOn(t *testing.T, cfg rocketmq.Config, topic string, since time.Time, broker string) map[string]time.Time {
	t.Helper()
	store, err := rocketmq.OpenStore(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	out := map[string]time.Time{}
	err = store.Scan(context.Background(), topic, since, time.Now(), func(m *rocketmq.StoredMessage) error {
		if m.Broker == broker {
			out[m.Key] = m.Stored
		}
		return nil
	})
	if err != nil {
		t.Fatalf("scan %s: %v", topic, err)
	}
	return out
}

// load makes a call every loadEvery until stopped, or for loadLimit, each
// in a goroutine of its own, and records when each was sent and how it
// ended.
type load struct {
	quit chan struct{}
	done chan struct{}
	wg   sync.WaitGroup

	mu    sync.Mutex
	calls []*loadCall
}

type loadCall struct {
	sent, ended time.Time
	err         error
	finished    bool
}

func startLoad(calc *calculator.CalculatorClient) *load {
	l := &load{quit: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(l.done)
		tick := time.NewTicker(loadEvery)
		defer tick.Stop()
		limit := time.After(loadLimit)
		for i := 0; ; i++ {
			select {
			case <-l.quit:
				return
			case <-limit:
				return
			case <-tick.C:
			}
			c := &loadCall{sent: time.Now()}
			l.mu.Lock()
			l.calls = append(l.calls, c)
			l.mu.Unlock()
			l.wg.Go(func() {
				sum, err := calc.Add(context.Background(), i, 1)
				if err == nil && sum != i+1 {
					err = fmt.Errorf("Add(%d, 1) = %d", i, sum)
				}
				l.mu.Lock()
				c.ended, c.err, c.finished = time.Now(), err, true
				l.mu.Unlock()
			})
		}
	}()
	return l
}

// stop ends the load and waits for its calls.
func (l *load) stop() {
	select {
	case <-l.quit:
	default:
		close(l.quit)
	}
	<-l.done
	l.wg.Wait()
}

// awaitSentBefore waits until it is t0 and every call sent before then has
// ended, which each does by its deadline.
func (l *load) awaitSentBefore(t *testing.T, t0 time.Time) {
	t.Helper()
	waitFor(t, time.Until(t0)+callTimeout+5*time.Second, "the calls of the cycle to end", func() error {
		if time.Now().Before(t0) {
			return fmt.Errorf("%v to go", time.Until(t0))
		}
		l.mu.Lock()
		defer l.mu.Unlock()
		for _, c := range l.calls {
			if c.sent.Before(t0) && !c.finished {
				return fmt.Errorf("a call sent at %v has not ended", c.sent.Format(time.TimeOnly))
			}
		}
		return nil
	})
}

type lateFailure struct {
	after time.Duration
	err   error
}

type cycleSummary struct {
	firstSuccess       time.Duration
	early, earlyFailed int
	late               int
	lateFailed         []lateFailure
}

// summary sums up the calls sent in the watch of a port that opened at
// open: the failures before and after settleAfterOpen; and the first
// success of a call sent after open and before next.
func (l *load) summary(open, next time.Time) cycleSummary {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := cycleSummary{firstSuccess: -1}
	settled, end := open.Add(settleAfterOpen), open.Add(watchAfterOpen)
	var first time.Time
	for _, c := range l.calls {
		if c.sent.Before(open) || c.sent.After(next) {
			continue
		}
		if c.err == nil && (first.IsZero() || c.ended.Before(first)) {
			first = c.ended
		}
		if c.sent.After(end) {
			continue
		}
		if c.sent.Before(settled) {
			s.early++
			if c.err != nil {
				s.earlyFailed++
			}
			continue
		}
		s.late++
		if c.err != nil {
			s.lateFailed = append(s.lateFailed, lateFailure{after: c.sent.Sub(open).Round(time.Millisecond), err: c.err})
		}
	}
	if !first.IsZero() {
		s.firstSuccess = first.Sub(open).Round(time.Millisecond)
	}
	return s
}
