package main_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/mqrpc/mqrpc/internal/testservice"
	"github.com/mqrpc/mqrpc/runtime"
	"github.com/mqrpc/mqrpc/runtime/rocketmq"
	"github.com/mqrpc/mqrpc/runtime/rocketmq/rocketmqtest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, rocketmqtest.IgnoreLibraryGoroutines()...)
}

// hostileGrowth bounds how much a server process's resident memory may grow
// above its idle size while it refuses one hostile request: a small multiple
// of the 4 MiB maximum message size (README, "Limits").
const hostileGrowth = 16 * runtime.DefaultMaxMessageSize

// Requests crafted by hand, as a broken or hostile producer would send
// them, reach a server running in a process of its own. Each gets its typed
// error, the server's memory stays bounded, and it answers an ordinary call
// within a second afterwards.
func TestHostileRequestsLeaveTheServerServing(t *testing.T) {
	namesrv := rocketmqtest.NameServer(t)
	topic := fmt.Sprintf("probe_hostile_%d", time.Now().UnixNano())
	srv := startProbeServer(t, namesrv, topic)

	raw := newRawCaller(t, namesrv, topic)
	client := newProbeClient(t, namesrv, topic)

	str32 := append([]byte{0x91, 0xdb, 0xff, 0xff, 0xff, 0xff}, "0123456789"...)
	cases := []struct {
		name   string
		method string
		body   []byte
		want   []runtime.Code // any of these
	}{
		{"tree 2 million levels deep", "Tree", deepTree(2_000_000), []runtime.Code{runtime.InvalidArgument}},
		{"4 million nested arrays under an unknown key", "Tree", nestedUnderUnknownKey(4_100_000), []runtime.Code{runtime.InvalidArgument}},
		{"4 million nils for a slice of large structs", "Items", nilItems(4_000_000), []runtime.Code{runtime.InvalidArgument, runtime.ResourceExhausted}},
		{"map declaring 10 million entries holding 1", "Tree", append([]byte{0x91, 0xdf, 0x00, 0x98, 0x96, 0x80, 0xa4}, "Kids\x90"...), []runtime.Code{runtime.InvalidArgument}},
		{"str32 of 4 GiB holding 10 bytes", "Echo", str32, []runtime.Code{runtime.InvalidArgument}},
		{"300 for an int8", "Narrow", []byte{0x91, 0xcd, 0x01, 0x2c}, []runtime.Code{runtime.InvalidArgument}},
		{"empty array for one parameter", "Echo", []byte{0x90}, []runtime.Code{runtime.InvalidArgument}},
		{"nil for one parameter", "Echo", []byte{0xc0}, []runtime.Code{runtime.InvalidArgument}},
		{"map for positional arguments", "Echo", []byte{0x81, 0xa1, 's', 0xa1, 'x'}, []runtime.Code{runtime.InvalidArgument}},
		{"one argument too many", "Echo", []byte{0x92, 0xa1, 'a', 0xa1, 'b'}, []runtime.Code{runtime.InvalidArgument}},
		{"not msgpack", "Echo", []byte{0xc1}, []runtime.Code{runtime.InvalidArgument}},
		{"unknown method", "Nope", []byte{0x90}, []runtime.Code{runtime.Unimplemented}},
	}
	idle := srv.rss(t)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv.resetPeak(t)
			reply := raw.call(t, c.method, c.body)
			code := replyCode(t, reply)
			if !containsCode(c.want, code) {
				t.Errorf("reply %v (%s), want one of %v", code, reply.Properties[runtime.PropMessage], c.want)
			}
			growth := srv.peak(t) - idle
			t.Logf("%-45s -> %-18v server peak RSS %+.1f MiB over idle", c.name, code, float64(growth)/(1<<20))
			if growth > hostileGrowth {
				t.Errorf("server resident memory grew by %d MiB, over the bound of %d MiB", growth>>20, hostileGrowth>>20)
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			if got, err := client.Echo(ctx, "still there"); err != nil || got != "still there" {
				t.Fatalf("Echo after the hostile request = %q, %v; want the server to answer within 1 s", got, err)
			}
		})
	}
}

func containsCode(codes []runtime.Code, c runtime.Code) bool {
	for _, w := range codes {
		if w == c {
			return true
		}
	}
	return false
}

// arrayHeader is the msgpack header of an array of n values.
func arrayHeader(n int) []byte {
	switch {
	case n < 16:
		return []byte{0x90 | byte(n)}
	case n < 1<<16:
		return binary.BigEndian.AppendUint16([]byte{0xdc}, uint16(n))
	default:
		return binary.BigEndian.AppendUint32([]byte{0xdd}, uint32(n))
	}
}

// deepTree is Tree's arguments: a root Node nested levels deep, each Node a
// one-field array whose Kids hold one Node (2 bytes a level).
func deepTree(levels int) []byte {
	b := make([]byte, 0, 2+2*levels)
	b = append(b, 0x91)
	for range levels {
		b = append(b, 0x91, 0x91)
	}
	return append(b, 0xc0)
}

// nestedUnderUnknownKey is Tree's arguments: a root Node whose one field is
// unknown and holds arrays nested levels deep, which a decoder must skip.
func nestedUnderUnknownKey(levels int) []byte {
	b := make([]byte, 0, 5+levels)
	b = append(b, 0x91, 0x81, 0xa1, 'X')
	b = append(b, bytes.Repeat([]byte{0x91}, levels)...)
	return append(b, 0xc0)
}

// nilItems is Items' arguments: n nils, one byte each on the wire, for a
// slice of structs of hundreds of bytes each.
func nilItems(n int) []byte {
	b := append([]byte{0x91}, arrayHeader(n)...)
	return append(b, bytes.Repeat([]byte{0xc0}, n)...)
}

func replyCode(t *testing.T, reply *runtime.Message) runtime.Code {
	t.Helper()
	s, ok := reply.Properties[runtime.PropStatus]
	if !ok {
		return runtime.OK
	}
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		t.Fatalf("reply status %q: %v", s, err)
	}
	return runtime.Code(n)
}

// probeServer is a probeserver process.
type probeServer struct {
	cmd    *exec.Cmd
	exited chan struct{}
}

// startProbeServer builds probeserver and runs it on topic.
func startProbeServer(t *testing.T, namesrv, topic string) *probeServer {
	t.Helper()
	return runProbeServer(t, buildProbeServer(t), "-namesrv", namesrv, "-topic", topic)
}

// buildProbeServer builds probeserver without the race detector, as an
// operator would run it, and returns the binary's path.
func buildProbeServer(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "probeserver")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build probeserver: %v\n%s", err, out)
	}
	return bin
}

// runProbeServer runs bin with args and waits until it serves. It is
// stopped when the test ends.
func runProbeServer(t *testing.T, bin string, args ...string) *probeServer {
	t.Helper()
	cmd := exec.Command(bin, args...)
	// A test binary that dies leaves no server behind.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &probeServer{cmd: cmd, exited: make(chan struct{})}
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if sc.Text() == "serving" {
				ready <- true
			}
		}
		close(ready)
		_ = cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-p.exited:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-p.exited
		}
	})
	select {
	case ok := <-ready:
		if !ok {
			t.Fatal("probeserver ended before it served")
		}
	case <-time.After(60 * time.Second):
		t.Fatal("probeserver did not serve within 60 s")
	}
	return p
}

// kill ends the process at once, as a crash would: it acknowledges
// nothing more and unlocks no queue.
func (p *probeServer) kill(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("SIGKILL server: %v", err)
	}
	<-p.exited
}

// status reads a field of the process's /proc status, in bytes.
func (p *probeServer) status(t *testing.T, field string) int64 {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		t.Fatalf("server process: %v", err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			return kb << 10
		}
	}
	t.Fatalf("no %s in /proc status", field)
	return 0
}

func (p *probeServer) rss(t *testing.T) int64  { return p.status(t, "VmRSS") }
func (p *probeServer) peak(t *testing.T) int64 { return p.status(t, "VmHWM") }

// resetPeak starts a new measure of the process's peak resident memory.
func (p *probeServer) resetPeak(t *testing.T) {
	t.Helper()
	if err := os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", p.cmd.Process.Pid), []byte("5"), 0); err != nil {
		t.Fatalf("reset the server's peak RSS: %v", err)
	}
}

// rawCaller sends request messages it builds itself through a transport,
// with no runtime.Client in between, and collects their replies.
type rawCaller struct {
	tr    *rocketmq.Transport
	topic string
	seq   int

	mu      sync.Mutex
	waiting map[string]chan *runtime.Message
}

func newRawCaller(t *testing.T, namesrv, topic string) *rawCaller {
	t.Helper()
	tr, err := rocketmq.New(rocketmq.Config{NameServers: []string{namesrv}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tr.Close() })
	c := &rawCaller{tr: tr, topic: topic, waiting: make(map[string]chan *runtime.Message)}
	if err := tr.ListenReplies(func(m *runtime.Message) {
		c.mu.Lock()
		ch := c.waiting[m.Properties[runtime.PropCorrelationID]]
		c.mu.Unlock()
		if ch != nil {
			select {
			case ch <- m:
			default:
			}
		}
	}); err != nil {
		t.Fatal(err)
	}
	return c
}

// call sends body as a request for method and returns its reply.
func (c *rawCaller) call(t *testing.T, method string, body []byte) *runtime.Message {
	t.Helper()
	c.seq++
	id := fmt.Sprintf("hostile-%d-%d", time.Now().UnixNano(), c.seq)
	ch := make(chan *runtime.Message, 1)
	c.mu.Lock()
	c.waiting[id] = ch
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.waiting, id)
		c.mu.Unlock()
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	deadline, _ := ctx.Deadline()
	err := c.tr.Request(ctx, &runtime.Message{
		Topic: c.topic,
		Tag:   method,
		Key:   id,
		Properties: map[string]string{
			runtime.PropCorrelationID: id,
			runtime.PropMethod:        runtime.FullMethodName(testservice.ProbeServiceName, method),
			runtime.PropCodec:         "msgpack",
			runtime.PropVersion:       runtime.ProtocolVersion,
			runtime.PropDeadline:      strconv.FormatInt(deadline.UnixMilli(), 10),
		},
		Body: body,
	})
	if err != nil {
		t.Fatalf("send %d-byte request for %s: %v", len(body), method, err)
	}
	select {
	case m := <-ch:
		return m
	case <-ctx.Done():
		t.Fatalf("no reply to the %d-byte request for %s", len(body), method)
		return nil
	}
}

func newProbeClient(t *testing.T, namesrv, topic string) *testservice.ProbeClient {
	t.Helper()
	tr, err := rocketmq.New(rocketmq.Config{NameServers: []string{namesrv}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tr.Close() })
	client, err := runtime.NewClient(tr, runtime.WithCallOptions(runtime.WithTopic(topic)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Close() })
	return testservice.NewProbeClient(client)
}
