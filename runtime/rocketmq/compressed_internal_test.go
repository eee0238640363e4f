package rocketmq

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	goruntime "runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mqrpc/mqrpc/internal/testservice"
	"github.com/mqrpc/mqrpc/runtime"
	"github.com/mqrpc/mqrpc/runtime/rocketmq/rocketmqtest"
)

// countingProbe is the test service, counting the Blob calls it runs.
type countingProbe struct {
	testservice.Server
	blobs atomic.Int64
}

func (p *countingProbe) Blob(_ context.Context, b []byte) (int, error) {
	p.blobs.Add(1)
	return len(b), nil
}

// rawRequester sends requests as a raw RocketMQ producer would, with bodies
// of its choosing flagged compressed, and collects their replies.
type rawRequester struct {
	t       *Transport
	mu      sync.Mutex
	waiting map[string]chan *runtime.Message
}

func newRawRequester(t *testing.T, ns string) *rawRequester {
	t.Helper()
	tr, err := New(Config{NameServers: []string{ns}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tr.Close() })
	r := &rawRequester{t: tr, waiting: map[string]chan *runtime.Message{}}
	err = tr.ListenReplies(func(m *runtime.Message) {
		r.mu.Lock()
		ch := r.waiting[m.Properties[runtime.PropCorrelationID]]
		r.mu.Unlock()
		if ch != nil {
			ch <- m
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// call sends a request for method on topic whose body is stored, flagged
// compressed when compressed is set, and returns its reply.
func (r *rawRequester) call(t *testing.T, topic, method string, stored []byte, compressed bool) *runtime.Message {
	t.Helper()
	id := fmt.Sprintf("zip-%d", time.Now().UnixNano())
	ch := make(chan *runtime.Message, 1)
	r.mu.Lock()
	r.waiting[id] = ch
	r.mu.Unlock()
	deadline := time.Now().Add(30 * time.Second)
	pm := toPrimitive(&runtime.Message{Topic: topic, Tag: method, Key: id, Body: stored, Properties: map[string]string{
		runtime.PropCorrelationID: id,
		runtime.PropMethod:        runtime.FullMethodName(testservice.ProbeServiceName, method),
		runtime.PropVersion:       runtime.ProtocolVersion,
		runtime.PropDeadline:      strconv.FormatInt(deadline.UnixMilli(), 10),
	}})
	pm.WithProperty(propReplyTo, r.t.clientID)
	pm.WithProperty(propTTL, "30000")
	if compressed {
		// The library's producer sends CompressedBody, flagged
		// compressed, in place of Body.
		pm.Compress = true
		pm.CompressedBody = stored
	}
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	if _, err := r.t.producer.SendSync(ctx, pm); err != nil {
		t.Fatalf("send %s: %v", method, err)
	}
	select {
	case m := <-ch:
		return m
	case <-ctx.Done():
		t.Fatalf("no reply to %s within 30 s", method)
		return nil
	}
}

// blobArgs is the msgpack body of Blob(b) for a b of n bytes of pattern.
func blobArgs(n int, pattern byte) []byte {
	return append(blobHeader(n), bytes.Repeat([]byte{pattern}, n)...)
}

// blobHeader is the start of Blob's body for a b of n bytes, before b.
func blobHeader(n int) []byte {
	return binary.BigEndian.AppendUint32([]byte{0x91, 0xc6}, uint32(n)) // array of 1, bin 32
}

// A raw producer's compressed bodies cannot take a server down: a 100 MiB
// body that is ~100 KB compressed is refused with ResourceExhausted while
// the server's memory grows by a small multiple of the max message size,
// not by the body's size; a body flagged compressed that is no zlib is
// refused with InvalidArgument; neither runs the handler, and the server
// answers a normal call within 1 s after. A compressed body just under the
// limit is served.
func TestCompressedRequestBodies(t *testing.T) {
	ns := rocketmqtest.NameServer(t)
	topic := fmt.Sprintf("mqrpc_zip_%d", time.Now().UnixNano())
	srvTr, err := New(Config{NameServers: []string{ns}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srvTr.Close() })
	probe := &countingProbe{}
	srv := runtime.NewServer(srvTr, runtime.WithServiceTopic(testservice.ProbeServiceName, topic))
	if err := testservice.RegisterProbe(srv, probe); err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)

	cliTr, err := New(Config{NameServers: []string{ns}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cliTr.Close() })
	client, err := runtime.NewClient(cliTr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Close() })
	echo := func(timeout time.Duration) error {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		got, err := testservice.NewProbeClient(client, runtime.WithTopic(topic)).Echo(ctx, "still here")
		if err == nil && got != "still here" {
			err = fmt.Errorf("Echo answered %q", got)
		}
		return err
	}
	// The first call also waits for the server's consumer to take its
	// queues.
	if err := echo(60 * time.Second); err != nil {
		t.Fatalf("first Echo: %v", err)
	}
	raw := newRawRequester(t, ns)

	const limit = runtime.DefaultMaxMessageSize
	for _, c := range []struct {
		name   string
		stored []byte
		want   runtime.Code
	}{
		{"100 MiB of zeros, compressed", zlibOfZeros(t, blobHeader(100<<20), 100), runtime.ResourceExhausted},
		{"not zlib", []byte("flagged compressed, but not zlib"), runtime.InvalidArgument},
		{"a zlib stream cut short", zlibOf(t, blobArgs(1<<20, 'x'))[:500], runtime.InvalidArgument},
	} {
		before := probe.blobs.Load()
		var ms0, ms1 goruntime.MemStats
		goruntime.GC()
		goruntime.ReadMemStats(&ms0)
		reply := raw.call(t, topic, "Blob", c.stored, true)
		goruntime.ReadMemStats(&ms1)
		status := reply.Properties[runtime.PropStatus]
		if status != strconv.Itoa(int(c.want)) {
			t.Errorf("%s (%d bytes stored): reply status %q (%s), want %d (%v)", c.name, len(c.stored), status, reply.Properties[runtime.PropMessage], c.want, c.want)
		}
		if n := probe.blobs.Load() - before; n != 0 {
			t.Errorf("%s: the handler ran %d times, want none", c.name, n)
		}
		allocated := ms1.TotalAlloc - ms0.TotalAlloc
		t.Logf("%s (%d bytes stored): %s: %s; the process allocated %.1f MiB (%.2fx the limit) while it was served",
			c.name, len(c.stored), runtime.Code(mustAtoi(t, status)), reply.Properties[runtime.PropMessage],
			float64(allocated)/(1<<20), float64(allocated)/limit)
		if allocated > 8*limit {
			t.Errorf("%s: the process allocated %d bytes while it was served, over 8x the max message size (%d)", c.name, allocated, limit)
		}
		start := time.Now()
		if err := echo(time.Second); err != nil {
			t.Errorf("%s: Echo right after: %v, want an answer within 1 s", c.name, err)
		} else {
			t.Logf("%s: Echo right after answered in %v", c.name, time.Since(start).Round(time.Millisecond))
		}
	}

	// Just under the limit, inflated, the body is served.
	args := blobArgs(limit-7, 'z')
	if len(args) != limit-1 {
		t.Fatalf("args are %d bytes, want %d", len(args), limit-1)
	}
	reply := raw.call(t, topic, "Blob", zlibOf(t, args), true)
	if s := reply.Properties[runtime.PropStatus]; s != "" && s != "0" {
		t.Fatalf("a compressed body of %d bytes, just under the limit: status %s (%s), want OK", len(args), s, reply.Properties[runtime.PropMessage])
	}
	// The reply is [len(b)] in msgpack: an array of one uint32.
	if want := append([]byte{0x91, 0xce}, binary.BigEndian.AppendUint32(nil, uint32(limit-7))...); !bytes.Equal(reply.Body, want) {
		t.Errorf("a compressed body just under the limit: reply %x, want %x (Blob's length)", reply.Body, want)
	}
	if n := probe.blobs.Load(); n != 1 {
		t.Errorf("the handler ran %d times, want once, for the body under the limit", n)
	}
}

// The server refuses a request body over its max message size with
// ResourceExhausted, without running the handler, whether it came so or
// grew so when it was inflated: the client's own check does not bind a
// raw producer.
func TestServerRefusesRequestsOverItsLimit(t *testing.T) {
	ns := rocketmqtest.NameServer(t)
	topic := fmt.Sprintf("mqrpc_big_%d", time.Now().UnixNano())
	srvTr, err := New(Config{NameServers: []string{ns}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srvTr.Close() })
	probe := &countingProbe{}
	const limit = 64 << 10
	srv := runtime.NewServer(srvTr, runtime.WithServiceTopic(testservice.ProbeServiceName, topic), runtime.WithMaxMessageSize(limit))
	if err := testservice.RegisterProbe(srv, probe); err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	raw := newRawRequester(t, ns)
	for _, c := range []struct {
		name       string
		args       []byte
		compressed bool
		want       runtime.Code
	}{
		{"at the limit", blobArgs(limit-6, 'a'), false, runtime.OK},
		{"over the limit", blobArgs(limit, 'b'), false, runtime.ResourceExhausted},
		{"over the limit once inflated", blobArgs(limit, 'c'), true, runtime.ResourceExhausted},
	} {
		stored := c.args
		if c.compressed {
			stored = zlibOf(t, c.args)
		}
		reply := raw.call(t, topic, "Blob", stored, c.compressed)
		got := runtime.OK
		if s := reply.Properties[runtime.PropStatus]; s != "" {
			got = runtime.Code(mustAtoi(t, s))
		}
		if got != c.want {
			t.Errorf("%s (%d bytes): %v (%s), want %v", c.name, len(c.args), got, reply.Properties[runtime.PropMessage], c.want)
		}
		t.Logf("%s (%d bytes): %v %s", c.name, len(c.args), got, reply.Properties[runtime.PropMessage])
	}
	if n := probe.blobs.Load(); n != 1 {
		t.Errorf("the handler ran %d times, want once", n)
	}
}

func mustAtoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatalf("status %q: %v", s, err)
	}
	return n
}
