package main

// Integration tests over a real RocketMQ broker: the generated calculator
// client calls a server that runs in another process. They need the
// broker's name server in MQRPC_NAMESRV (`make broker-up`); under CI=true
// they fail rather than skip without it.
//
// The server process is this test binary run again with MQRPC_TEST_SERVER
// set (see TestMain): it serves the calculator on the topic the test gives
// it and reports what it does as lines on stdout.

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
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

const (
	envServer = "MQRPC_TEST_SERVER" // topic the server process serves
	// blockOperand makes the server process's Add block until it is
	// killed, after printing "blocked".
	blockOperand = 424242
)

// uniqueTopic returns a request topic no earlier run has used, so that
// requests left over from another run cannot reach this one.
func uniqueTopic(t *testing.T) string {
	return fmt.Sprintf("calc_%s_%d", strings.ReplaceAll(t.Name(), "/", "_"), time.Now().UnixNano())
}

// serverProcess is the calculator server running in a child process.
type serverProcess struct {
	cmd  *exec.Cmd
	done chan struct{}

	mu    sync.Mutex
	lines []string      // every line the process printed, in order
	next  int           // lines before next were looked at by await
	added chan struct{} // gets a value when a line is added
}

// startServer runs the calculator server in a child process serving topic,
// and waits until it is subscribed.
func startServer(t *testing.T, topic string) *serverProcess {
	t.Helper()
	return runServerProcess(t, envServer+"="+topic, "MQRPC_NAMESRV="+rocketmqtest.NameServer(t))
}

// runServerProcess runs this test binary as a server process with env
// added to its environment, and waits until it reports "ready".
func runServerProcess(t *testing.T, env ...string) *serverProcess {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start server process: %v", err)
	}
	p := &serverProcess{cmd: cmd, done: make(chan struct{}), added: make(chan struct{}, 1)}
	go func() {
		defer close(p.done)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			p.mu.Lock()
			p.lines = append(p.lines, sc.Text())
			p.mu.Unlock()
			select {
			case p.added <- struct{}{}:
			default:
			}
		}
		_ = cmd.Wait()
	}()
	t.Cleanup(p.kill)
	p.await(t, "ready")
	return p
}

// await waits for the server process to report event, in a line printed
// after the event await last returned.
func (p *serverProcess) await(t *testing.T, event string) {
	t.Helper()
	p.awaitUnless(t, event, "", "")
}

// awaitUnless is await that fails at once when the process reports
// forbidden first, with a message that says why that is wrong.
func (p *serverProcess) awaitUnless(t *testing.T, event, forbidden, why string) {
	t.Helper()
	timeout := time.After(60 * time.Second)
	for {
		p.mu.Lock()
		lines := p.lines[p.next:]
		p.next = len(p.lines)
		p.mu.Unlock()
		for i, line := range lines {
			switch {
			case forbidden != "" && line == forbidden:
				t.Fatalf("server process printed %q before %q: %s", forbidden, event, why)
			case line == event:
				p.mu.Lock()
				p.next -= len(lines) - i - 1 // the lines after event are still to look at
				p.mu.Unlock()
				return
			}
		}
		select {
		case <-p.added:
		case <-p.done:
			if p.printed() > p.next {
				continue // the last lines came with the exit
			}
			t.Fatalf("server process exited before reporting %q", event)
		case <-timeout:
			t.Fatalf("server process did not report %q within 60s", event)
		}
	}
}

// printed returns how many lines the process printed so far.
func (p *serverProcess) printed() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.lines)
}

// everPrinted reports whether the process printed line at any time.
func (p *serverProcess) everPrinted(line string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Contains(p.lines, line)
}

// kill ends the server process with SIGKILL, as a crash would, and waits
// for it to be gone.
func (p *serverProcess) kill() {
	_ = p.cmd.Process.Kill()
	<-p.done
}

// serveForTest is the server process: it serves a calculator whose Add
// blocks on blockOperand, and reports readiness, blocking and the requests
// it dropped as expired.
func serveForTest(topic string) error {
	tr, err := rocketmq.New(rocketmq.Config{NameServers: []string{os.Getenv("MQRPC_NAMESRV")}})
	if err != nil {
		return err
	}
	defer tr.Close()
	srv := runtime.NewServer(tr, runtime.WithServiceTopic(calculator.CalculatorServiceName, topic),
		runtime.WithLogger(slog.New(lineHandler{})))
	if err := calculator.RegisterCalculator(srv, blockingCalculator{}); err != nil {
		return err
	}
	if err := srv.Start(); err != nil {
		return err
	}
	fmt.Println("ready")
	var reported uint64
	for range time.Tick(20 * time.Millisecond) {
		if n := srv.Stats().Expired; n != reported {
			reported = n
			fmt.Printf("expired %d\n", n)
		}
	}
	return nil
}

// lineHandler prints each warning or error the server logs as a line
// "log: MESSAGE call_id=ID", for the test to await.
type lineHandler struct{ attrs []slog.Attr }

func (lineHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }

func (h lineHandler) Handle(_ context.Context, r slog.Record) error {
	id := ""
	find := func(a slog.Attr) bool {
		if a.Key == "call_id" {
			id = a.Value.String()
		}
		return true
	}
	for _, a := range h.attrs {
		find(a)
	}
	r.Attrs(find)
	fmt.Printf("log: %s call_id=%s\n", r.Message, id)
	return nil
}

func (h lineHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return lineHandler{attrs: append(slices.Clip(h.attrs), attrs...)}
}

func (h lineHandler) WithGroup(string) slog.Handler { return h }

type blockingCalculator struct{ calculator.Server }

func (c blockingCalculator) Add(ctx context.Context, a, b int) (int, error) {
	if a == blockOperand {
		fmt.Println("blocked")
		select {} // until the process is killed
	}
	return c.Server.Add(ctx, a, b)
}

// newTransport returns a RocketMQ transport closed when the test ends.
func newTransport(t *testing.T) *rocketmq.Transport {
	t.Helper()
	tr, err := rocketmq.New(rocketmq.Config{NameServers: []string{rocketmqtest.NameServer(t)}})
	if err != nil {
		t.Fatalf("rocketmq.New: %v", err)
	}
	t.Cleanup(func() { _ = tr.Close() })
	return tr
}

// newClient returns a calculator client over a transport of its own that
// calls the server on topic.
func newClient(t *testing.T, topic string, opts ...runtime.CallOption) (*calculator.CalculatorClient, *runtime.Client) {
	t.Helper()
	c, err := runtime.NewClient(newTransport(t), runtime.WithCallOptions(append([]runtime.CallOption{runtime.WithTopic(topic)}, opts...)...))
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return calculator.NewCalculatorClient(c), c
}

func TestCalculatorAcrossProcesses(t *testing.T) {
	topic := uniqueTopic(t)
	startServer(t, topic)
	calc, _ := newClient(t, topic)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out strings.Builder
	if err := exercise(ctx, calc, 7, 2, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "7 / 2 = 3 remainder 1") {
		t.Errorf("unexpected output:\n%s", out.String())
	}
}

// The reply to the very first call of a new client must reach it: the
// client registers with every broker before it returns from New.
func TestFirstCallOfNewClientGetsReply(t *testing.T) {
	topic := uniqueTopic(t)
	startServer(t, topic)
	for i := range 3 {
		calc, _ := newClient(t, topic)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		sum, err := calc.Add(ctx, i, 1)
		cancel()
		if err != nil || sum != i+1 {
			t.Fatalf("first call of client %d: %d, %v", i, sum, err)
		}
	}
}

// storeSignal closes stored once a request has been stored by the broker.
type storeSignal struct {
	runtime.Transport
	once   sync.Once
	stored chan struct{}
}

func (s *storeSignal) Request(ctx context.Context, m *runtime.Message) error {
	err := s.Transport.Request(ctx, m)
	if err == nil {
		s.once.Do(func() { close(s.stored) })
	}
	return err
}

func TestCallSentBeforeServerStarts(t *testing.T) {
	topic := uniqueTopic(t)
	tr := newTransport(t)
	sig := &storeSignal{Transport: tr, stored: make(chan struct{})}
	client, err := runtime.NewClient(sig, runtime.WithCallOptions(runtime.WithTopic(topic)))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	calc := calculator.NewCalculatorClient(client)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	errc := make(chan error, 1)
	go func() {
		sum, err := calc.Add(ctx, 40, 2)
		if err == nil && sum != 42 {
			err = fmt.Errorf("sum = %d, want 42", sum)
		}
		errc <- err
	}()
	select {
	case <-sig.stored:
	case err := <-errc:
		t.Fatalf("call ended before it was stored: %v", err)
	}
	// The scenario: the server comes up two seconds after the request was
	// stored, well within the call's deadline.
	<-time.After(2 * time.Second)
	startServer(t, topic)
	if err := <-errc; err != nil {
		t.Fatalf("call sent before the server started: %v", err)
	}
}

func TestServerKilledMidCall(t *testing.T) {
	topic := uniqueTopic(t)
	srv := startServer(t, topic)
	calc, _ := newClient(t, topic)
	const timeout = 4 * time.Second
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	deadline, _ := ctx.Deadline()
	errc := make(chan error, 1)
	go func() {
		_, err := calc.Add(ctx, blockOperand, 1)
		errc <- err
	}()
	srv.await(t, "blocked")
	srv.kill()

	err := <-errc
	if runtime.CodeOf(err) != runtime.DeadlineExceeded {
		t.Fatalf("call to a killed server: %v, want DeadlineExceeded", err)
	}
	if late := time.Since(deadline); late > time.Second {
		t.Errorf("call returned %v after its deadline", late)
	}

	// The killed server never acknowledged the request, so the broker
	// delivers it to the restarted one, which must not run it: its
	// deadline has passed. Every line the restarted server prints is kept:
	// "blocked" at any point means it ran the request.
	restarted := startServer(t, topic)
	const ran = "the restarted server ran the request whose deadline had passed"
	restarted.awaitUnless(t, "expired 1", "blocked", ran)
	sum, err := calc.Add(context.Background(), 1, 2)
	if err != nil || sum != 3 {
		t.Fatalf("call to the restarted server: %d, %v", sum, err)
	}
	if restarted.everPrinted("blocked") {
		t.Fatal(ran)
	}
}

// 2,000 concurrent calls from 4 clients each get their own answer.
func TestManyClientsManyCalls(t *testing.T) {
	topic := uniqueTopic(t)
	startServer(t, topic)
	const clients, calls = 4, 500
	var wg sync.WaitGroup
	errs := make(chan error, clients*calls)
	for c := range clients {
		calc, client := newClient(t, topic)
		for i := range calls {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
				defer cancel()
				a, b := c*1_000_000, i
				sum, err := calc.Add(ctx, a, b)
				switch {
				case err != nil:
					errs <- fmt.Errorf("client %d call %d: %w", c, i, err)
				case sum != a+b:
					errs <- fmt.Errorf("client %d call %d got %d, want %d", c, i, sum, a+b)
				}
			}()
		}
		t.Cleanup(func() {
			if n := client.Stats().Pending; n != 0 {
				t.Errorf("client %d has %d calls pending", c, n)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// A request built by hand, not by an mqrpc client, whose body is not
// msgpack gets an InvalidArgument reply when it names a client to reply
// to, and the server keeps serving.
func TestMalformedRequestFromRawProducer(t *testing.T) {
	topic := uniqueTopic(t)
	srv := startServer(t, topic)
	raw := newTransport(t)
	replies := make(chan *runtime.Message, 4)
	if err := raw.ListenReplies(func(m *runtime.Message) { replies <- m }); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	malformed := func(id string) *runtime.Message {
		return &runtime.Message{
			Topic:      topic,
			Tag:        "Add", // no mqrpc properties: the method comes from the tag
			Properties: map[string]string{runtime.PropCorrelationID: id},
			Body:       []byte{0xc1, 0xff, 0x00},
		}
	}
	// Without a client to reply to there is nothing to answer: the server
	// handles the message, finds it malformed, and logs that it cannot
	// send the reply.
	if err := raw.Send(ctx, malformed("raw-one-way")); err != nil {
		t.Fatalf("send malformed one-way message: %v", err)
	}
	srv.await(t, "log: mqrpc: send reply call_id=raw-one-way")
	// Request names this transport as the client to reply to.
	if err := raw.Request(ctx, malformed("raw-1")); err != nil {
		t.Fatalf("send malformed request: %v", err)
	}
	timeout := time.After(30 * time.Second)
	for answered := false; !answered; {
		select {
		case reply := <-replies:
			switch id := reply.Properties[runtime.PropCorrelationID]; id {
			case "raw-1":
				answered = true
			case "raw-one-way":
				t.Fatal("the malformed one-way message, which names no client to reply to, got a reply")
			default:
				t.Fatalf("reply with correlation id %q, want raw-1", id)
			}
			if got := reply.Properties[runtime.PropStatus]; got != fmt.Sprint(uint32(runtime.InvalidArgument)) {
				t.Errorf("reply status %q (%s), want InvalidArgument (%d)", got, reply.Properties[runtime.PropMessage], runtime.InvalidArgument)
			}
		case <-timeout:
			t.Fatal("no reply to the malformed request within 30s")
		}
	}

	calc, _ := newClient(t, topic)
	sum, err := calc.Add(ctx, 2, 3)
	if err != nil || sum != 5 {
		t.Fatalf("call after malformed requests: %d, %v", sum, err)
	}
	// Nor did any other reply come meanwhile.
	select {
	case reply := <-replies:
		t.Fatalf("unexpected reply with correlation id %q", reply.Properties[runtime.PropCorrelationID])
	default:
	}
}

func TestNewFailsFastWhenNameServerIsDown(t *testing.T) {
	rocketmqtest.NameServer(t)
	start := time.Now()
	_, err := rocketmq.New(rocketmq.Config{NameServers: []string{"127.0.0.1:1"}})
	if err == nil {
		t.Fatal("New succeeded with no name server")
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("New took %v to fail", d)
	}
}
