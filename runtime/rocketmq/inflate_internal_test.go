package rocketmq

import (
	"bytes"
	"compress/flate"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"hash/adler32"
	"reflect"
	goruntime "runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"

	"github.com/mqrpc/mqrpc/runtime"
)

// encoded is a message to encode as the broker does in a pull result.
type encoded struct {
	sysFlag int32
	body    []byte
	topic   string
	props   string // "k\x01v\x02..."
}

// encodeRun encodes msgs as a run of messages, in the broker's format
// (MessageDecoder), which primitive.DecodeMessage reads.
func encodeRun(msgs ...encoded) []byte {
	var out []byte
	for i, m := range msgs {
		var b []byte
		b = binary.BigEndian.AppendUint32(b, 0)          // stored size, set below
		b = binary.BigEndian.AppendUint32(b, 0xdaa320a7) // magic code
		b = binary.BigEndian.AppendUint32(b, 0)          // body CRC
		b = binary.BigEndian.AppendUint32(b, 1)          // queue
		b = binary.BigEndian.AppendUint32(b, 0)          // flag
		b = binary.BigEndian.AppendUint64(b, uint64(i))  // queue offset
		b = binary.BigEndian.AppendUint64(b, 1000)       // commit log offset
		b = binary.BigEndian.AppendUint32(b, uint32(m.sysFlag))
		b = binary.BigEndian.AppendUint64(b, 1) // born timestamp
		b = appendHost(b, m.sysFlag&primitive.FlagBornHostV6 != 0)
		b = binary.BigEndian.AppendUint64(b, 2) // store timestamp
		b = appendHost(b, m.sysFlag&primitive.FlagStoreHostV6 != 0)
		b = binary.BigEndian.AppendUint32(b, 0) // reconsume times
		b = binary.BigEndian.AppendUint64(b, 0) // prepared transaction offset
		b = binary.BigEndian.AppendUint32(b, uint32(len(m.body)))
		b = append(b, m.body...)
		b = append(b, byte(len(m.topic)))
		b = append(b, m.topic...)
		b = binary.BigEndian.AppendUint16(b, uint16(len(m.props)))
		b = append(b, m.props...)
		binary.BigEndian.PutUint32(b, uint32(len(b)))
		out = append(out, b...)
	}
	return out
}

func appendHost(b []byte, v6 bool) []byte {
	if v6 {
		b = append(b, make([]byte, 16)...)
	} else {
		b = append(b, 127, 0, 0, 1)
	}
	return binary.BigEndian.AppendUint32(b, 10911)
}

// zlibOfZeros returns the zlib stream of prefix followed by mib MiB of
// zeros, without compressing them all: deflate compresses the second MiB
// of zeros to blocks that refer back only to zeros, which can be repeated
// for every further MiB. A 100 MiB bomb is so cheap to build, even under
// the race detector.
func zlibOfZeros(t testing.TB, prefix []byte, mib int) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := flate.NewWriter(&buf, flate.BestCompression)
	if err != nil {
		t.Fatal(err)
	}
	zeros := make([]byte, 1<<20)
	chunk := func(write ...[]byte) []byte {
		for _, b := range write {
			if _, err := w.Write(b); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		out := bytes.Clone(buf.Bytes())
		buf.Reset()
		return out
	}
	first, next := chunk(prefix, zeros), chunk(zeros)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	out := []byte{0x78, 0xda} // zlib header: deflate, 32 KiB window, best compression
	out = append(out, first...)
	for range mib - 1 {
		out = append(out, next...)
	}
	out = append(out, buf.Bytes()...) // the final, empty block
	// Adler-32: zeros leave its first sum as it is and add it to the
	// second once per byte.
	sum := adler32.Checksum(prefix)
	s1, s2 := uint64(sum&0xffff), uint64(sum>>16)
	s2 = (s2 + uint64(mib)<<20%65521*s1) % 65521
	return binary.BigEndian.AppendUint32(out, uint32(s2<<16|s1))
}

func zlibOf(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := zlib.NewWriter(&buf)
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// After defuse, the library's decoder hands every compressed body on as it
// was stored, whatever the hosts' address families; the transport then
// inflates it to what was sent. Other bodies, and the fields around, are
// as the broker sent them.
func TestDefuseKeepsTheLibraryFromInflating(t *testing.T) {
	plain := []byte("plain body")
	sent := bytes.Repeat([]byte("compressed body "), 100)
	z := zlibOf(t, sent)
	run := encodeRun(
		encoded{sysFlag: 0, body: plain, topic: "t1", props: "KEYS\x01a\x02"},
		encoded{sysFlag: primitive.FlagCompressed, body: z, topic: "t2", props: "KEYS\x01b\x02"},
		encoded{sysFlag: primitive.FlagCompressed | primitive.FlagBornHostV6 | primitive.FlagStoreHostV6, body: z, topic: "t3", props: "KEYS\x01c\x02"},
		encoded{sysFlag: primitive.FlagCompressed | compressionZlib, body: z, topic: "t4", props: "KEYS\x01d\x02"},
		encoded{sysFlag: primitive.FlagBornHostV6, body: plain, topic: "t5", props: "KEYS\x01e\x02"},
	)
	// The library, left alone, inflates.
	if got := primitive.DecodeMessage(run)[1].Body; !bytes.Equal(got, sent) {
		t.Fatalf("the library decoded a compressed body to %d bytes; the test's encoding is off", len(got))
	}
	defused, changed := defuse(run)
	if !changed {
		t.Fatal("defuse changed nothing in a run with compressed bodies")
	}
	msgs := primitive.DecodeMessage(defused)
	if len(msgs) != 5 {
		t.Fatalf("decoded %d messages, want 5", len(msgs))
	}
	for i, m := range msgs {
		if want := "t" + strconv.Itoa(i+1); m.Topic != want {
			t.Errorf("message %d: topic %q, want %q", i, m.Topic, want)
		}
		if want := string(rune('a' + i)); m.GetKeys() != want {
			t.Errorf("message %d: keys %q, want %q", i, m.GetKeys(), want)
		}
		if m.QueueOffset != int64(i) {
			t.Errorf("message %d: queue offset %d, want %d", i, m.QueueOffset, i)
		}
		if m.SysFlag&primitive.FlagCompressed != 0 {
			if !bytes.Equal(storedBody(m), z) {
				t.Errorf("message %d: the library did not hand on the compressed body as stored", i)
			}
			if int(m.StoreSize) != len(encodeRun(encoded{sysFlag: m.SysFlag, body: z, topic: m.Topic, props: "KEYS\x01x\x02"}))+1 {
				t.Errorf("message %d: stored size %d does not count the byte put in", i, m.StoreSize)
			}
		} else if !bytes.Equal(m.Body, plain) {
			t.Errorf("message %d: plain body %q, want %q", i, m.Body, plain)
		}
		body, err := deliveredRequestBody(m, runtime.DefaultMaxMessageSize)
		want := plain
		if m.SysFlag&primitive.FlagCompressed != 0 {
			want = sent
		}
		if err != nil || !bytes.Equal(body, want) {
			t.Errorf("message %d: delivered body of %d bytes, %v; want %d bytes", i, len(body), err, len(want))
		}
	}
	if again, changed := defuse(encodeRun(encoded{body: plain, topic: "t"})); changed || len(again) == 0 {
		t.Error("defuse changed a run without compressed bodies")
	}
}

// A run cut short anywhere is defused as far as the library reads it: the
// library never inflates a body, even one cut off by the end of the run.
func TestDefuseCutRuns(t *testing.T) {
	z := zlibOfZeros(t, nil, 1)
	run := encodeRun(
		encoded{sysFlag: primitive.FlagCompressed, body: z, topic: "t1", props: "a\x01b\x02"},
		encoded{sysFlag: primitive.FlagCompressed, body: z, topic: "t2"},
	)
	for n := 0; n <= len(run); n += 7 {
		assertNotInflated(t, run[:n])
	}
}

// assertNotInflated fails t if the library, given run defused, inflates a
// body of it.
func assertNotInflated(t *testing.T, run []byte) {
	t.Helper()
	defused, _ := defuse(run)
	var msgs []*primitive.MessageExt
	func() {
		defer func() { _ = recover() }() // the library panics on some runs; that is not ours to test
		msgs = primitive.DecodeMessage(defused)
	}()
	for i, m := range msgs {
		if m.SysFlag&primitive.FlagCompressed != 0 && len(m.Body) > 0 && m.Body[0] != defusePrefix {
			t.Fatalf("run of %d bytes: message %d: the library inflated a compressed body to %d bytes", len(run), i, len(m.Body))
		}
	}
}

func FuzzDefuse(f *testing.F) {
	z := zlibOfZeros(f, nil, 1)
	f.Add(encodeRun(encoded{sysFlag: primitive.FlagCompressed, body: z, topic: "t", props: "a\x01b\x02"}))
	f.Add(encodeRun(encoded{body: []byte("x"), topic: "t"}, encoded{sysFlag: primitive.FlagCompressed | primitive.FlagStoreHostV6, body: z}))
	f.Add(encodeRun(encoded{sysFlag: primitive.FlagCompressed, body: nil, topic: "t"}))
	f.Fuzz(func(t *testing.T, run []byte) {
		assertNotInflated(t, run)
	})
}

// inflate holds no more than limit+1 bytes of output, however far a body
// would inflate, and allocates less than twice the limit to find out.
func TestInflateBounded(t *testing.T) {
	const limit = 1 << 20
	exact := make([]byte, limit)
	for i := range exact {
		exact[i] = byte(i * 7)
	}
	if out, err := inflate(zlibOf(t, exact), limit); err != nil || !bytes.Equal(out, exact) {
		t.Errorf("a body of exactly the limit inflated to %d bytes, %v", len(out), err)
	}
	if _, err := inflate(zlibOf(t, exact[:limit-1]), limit-2); !errors.Is(err, errInflatesPastLimit) {
		t.Errorf("a body one byte past the limit: %v, want errInflatesPastLimit", err)
	}
	small := zlibOfZeros(t, []byte("head"), 3)
	if out, err := inflate(small, 4<<20); err != nil || !bytes.Equal(out, append([]byte("head"), make([]byte, 3<<20)...)) {
		t.Fatalf("the test's zlib stream of zeros inflates to %d bytes, %v; want \"head\" and 3 MiB of zeros", len(out), err)
	}
	bomb := zlibOfZeros(t, nil, 100)
	t.Logf("100 MiB of zeros is %d bytes compressed", len(bomb))
	var before, after goruntime.MemStats
	goruntime.GC()
	goruntime.ReadMemStats(&before)
	if _, err := inflate(bomb, limit); !errors.Is(err, errInflatesPastLimit) {
		t.Fatalf("100 MiB of zeros with a limit of 1 MiB: %v, want errInflatesPastLimit", err)
	}
	goruntime.ReadMemStats(&after)
	allocs := after.TotalAlloc - before.TotalAlloc
	t.Logf("inflating the bomb up to a 1 MiB limit allocates %d bytes (%.1fx the limit)", allocs, float64(allocs)/limit)
	if allocs > 2*limit {
		t.Errorf("inflating the bomb allocated %d bytes, over twice the limit of %d", allocs, limit)
	}
	for name, b := range map[string][]byte{
		"not zlib":     []byte("not zlib at all"),
		"empty":        nil,
		"cut short":    zlibOf(t, exact)[:1000],
		"bad checksum": func() []byte { z := zlibOf(t, []byte("hello")); z[len(z)-1] ^= 1; return z }(),
	} {
		if _, err := inflate(b, limit); err == nil || errors.Is(err, errInflatesPastLimit) {
			t.Errorf("%s: %v, want an error that it does not inflate", name, err)
		}
	}
}

// A compressed request body is refused with the code a caller can act on:
// ResourceExhausted past the limit, InvalidArgument when it does not
// inflate or is compressed in a way mqrpc does not inflate.
func TestDeliveredRequestBodyRefusals(t *testing.T) {
	const limit = 1000
	for _, c := range []struct {
		name    string
		sysFlag int32
		body    []byte
		want    runtime.Code
	}{
		{"past the limit", primitive.FlagCompressed, zlibOf(t, make([]byte, limit+1)), runtime.ResourceExhausted},
		{"not zlib", primitive.FlagCompressed, []byte("junk"), runtime.InvalidArgument},
		{"empty", primitive.FlagCompressed, nil, runtime.InvalidArgument},
		{"LZ4", primitive.FlagCompressed | compressionLZ4, zlibOf(t, []byte("x")), runtime.InvalidArgument},
		{"zstd", primitive.FlagCompressed | compressionZstd, zlibOf(t, []byte("x")), runtime.InvalidArgument},
		{"unknown type", primitive.FlagCompressed | 0x5<<8, zlibOf(t, []byte("x")), runtime.InvalidArgument},
	} {
		defused, _ := defuse(encodeRun(encoded{sysFlag: c.sysFlag, body: c.body, topic: "t"}))
		m := primitive.DecodeMessage(defused)[0]
		body, err := deliveredRequestBody(m, limit)
		if runtime.CodeOf(err) != c.want || body != nil {
			t.Errorf("%s: %d bytes, %v; want code %v", c.name, len(body), err, c.want)
			continue
		}
		t.Logf("%s: %v", c.name, err)
	}
}

// A pushed reply flagged compressed is inflated up to Config.MaxMessageSize;
// past it, the call fails with ResourceExhausted; a body flagged but not
// compressed (rocketmq-client-go's repliers send those) is kept as it is.
func TestPushedReplyInflatesWithinLimit(t *testing.T) {
	const limit = 4096
	tr := &Transport{cfg: Config{MaxMessageSize: limit}}
	var got *runtime.Message
	if err := tr.ListenReplies(func(m *runtime.Message) { got = m }); err != nil {
		t.Fatal(err)
	}
	deliver := func(body []byte) *runtime.Message {
		got = nil
		tr.deliverReply(pushedReply{props: map[string]string{runtime.PropCorrelationID: "c"}, body: body, sysFlag: primitive.FlagCompressed})
		if got == nil {
			t.Fatal("no reply delivered")
		}
		return got
	}
	results := bytes.Repeat([]byte{7}, limit)
	if m := deliver(zlibOf(t, results)); !bytes.Equal(m.Body, results) || m.Properties[runtime.PropStatus] != "" {
		t.Errorf("a reply at the limit: %d bytes, status %q; want it inflated, OK", len(m.Body), m.Properties[runtime.PropStatus])
	}
	if m := deliver([]byte("plain")); string(m.Body) != "plain" {
		t.Errorf("a reply flagged but not compressed: %q, want it as it is", m.Body)
	}
	m := deliver(zlibOfZeros(t, nil, 100))
	if m.Body != nil || m.Properties[runtime.PropStatus] != strconv.Itoa(int(runtime.ResourceExhausted)) {
		t.Errorf("a reply past the limit: %d bytes, status %q; want none, ResourceExhausted", len(m.Body), m.Properties[runtime.PropStatus])
	}
	t.Logf("reply past the limit: %s", m.Properties[runtime.PropMessage])
}

// pullFixture is a library client's pull interception, without a broker:
// a test plays the puller (a future waiting in the response table) and the
// connection's reader (which fills in the future it finds there and runs
// its callback).
type pullFixture struct {
	proxy *pullProxy
	table *sync.Map
}

func newPullFixture(t testing.TB) *pullFixture {
	t.Helper()
	installDefaultLogger()
	p, err := producer.NewDefaultProducer(
		producer.WithNsResolver(primitive.NewPassthroughResolver([]string{"127.0.0.1:1"})),
		producer.WithInstanceName("mqrpc-pull-fixture-"+strconv.FormatInt(time.Now().UnixNano(), 36)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Shutdown() })
	c, err := clientOf(p)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := c.remotingClient()
	if err != nil {
		t.Fatal(err)
	}
	proxy, err := newPullProxy(rc)
	if err != nil {
		t.Fatal(err)
	}
	table, err := syncMap(rc.Elem(), "responseTable")
	if err != nil {
		t.Fatal(err)
	}
	return &pullFixture{proxy: proxy, table: table}
}

// request returns a request command with code and opaque.
func (f *pullFixture) request(code int16, opaque int32) reflect.Value {
	cmd := reflect.New(f.proxy.cmd.Elem())
	cmd.Elem().FieldByIndex(f.proxy.code).SetInt(int64(code))
	cmd.Elem().FieldByIndex(f.proxy.opaque).SetInt(int64(opaque))
	return cmd
}

// wait puts a waiting future for opaque in the table, as InvokeSync does.
func (f *pullFixture) wait(opaque int32) reflect.Value {
	fut := reflect.New(f.proxy.future.Elem())
	fut.Elem().FieldByIndex(f.proxy.futOpaque).SetInt(int64(opaque))
	fut.Elem().FieldByIndex(f.proxy.done).Set(reflect.ValueOf(make(chan bool)))
	f.table.Store(opaque, fut.Interface())
	return fut
}

// respond does what the reader does with a response to opaque whose body
// is body.
func (f *pullFixture) respond(t testing.TB, opaque int32, body []byte) {
	v, ok := f.table.LoadAndDelete(opaque)
	if !ok {
		t.Fatal("no future in the table")
	}
	fut := reflect.ValueOf(v)
	res := f.request(0, opaque)
	res.Elem().FieldByIndex(f.proxy.body).SetBytes(body)
	fut.Elem().FieldByIndex(f.proxy.response).Set(res)
	if done := fut.Elem().FieldByIndex(f.proxy.done); !done.IsNil() {
		done.Close()
	}
	cb, err := field(fut.Elem(), "callback")
	if err != nil {
		t.Fatal(err)
	}
	if !cb.IsNil() {
		cb.Call([]reflect.Value{fut})
	}
}

// The future a pull waits on gets the pull's response with its compressed
// bodies defused; other requests' futures are left alone.
func TestPullInterceptionDefusesTheResponse(t *testing.T) {
	f := newPullFixture(t)
	z := zlibOfZeros(t, nil, 1)
	run := encodeRun(encoded{sysFlag: primitive.FlagCompressed, body: z, topic: "t"})

	waiter := f.wait(7)
	f.proxy.intercept(f.table, f.request(codePullMessage, 7).Interface())
	f.respond(t, 7, run)
	select {
	case <-waiter.Elem().FieldByIndex(f.proxy.done).Interface().(chan bool):
	default:
		t.Fatal("the pull's future was not done after its response")
	}
	body := waiter.Elem().FieldByIndex(f.proxy.response).Elem().FieldByIndex(f.proxy.body).Bytes()
	m := primitive.DecodeMessage(body)[0]
	if !bytes.Equal(storedBody(m), z) {
		t.Fatalf("the pull's response was not defused: the library decoded a body of %d bytes", len(m.Body))
	}

	other := f.wait(8)
	f.proxy.intercept(f.table, f.request(codeSendMessage, 8).Interface())
	if v, _ := f.table.Load(int32(8)); v != other.Interface() {
		t.Fatal("a request that is not a pull had its future replaced")
	}
}

// codeSendMessage is SEND_MESSAGE's request code, not a pull's.
const codeSendMessage = int16(10)

// What a pull costs the interception, for a response of 32 small messages
// none of them compressed: the usual case.
func BenchmarkPullInterception(b *testing.B) {
	f := newPullFixture(b)
	msgs := make([]encoded, 32)
	for i := range msgs {
		msgs[i] = encoded{body: bytes.Repeat([]byte{1}, 100), topic: "calculator_Calculator", props: "KEYS\x01abc\x02"}
	}
	run := encodeRun(msgs...)
	req := f.request(codePullMessage, 1).Interface()
	// "without" is the fixture's own share: the future, the response and
	// the reader's work.
	for _, intercept := range []bool{false, true} {
		b.Run(map[bool]string{false: "without", true: "with"}[intercept], func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				f.wait(1)
				if intercept {
					f.proxy.intercept(f.table, req)
				}
				f.respond(b, 1, run)
			}
		})
	}
}

// What the consume path adds to a message that is not compressed.
func BenchmarkDeliveredRequestBodyPlain(b *testing.B) {
	m := primitive.DecodeMessage(encodeRun(encoded{body: []byte{0x92, 2, 3}, topic: "t"}))[0]
	b.ReportAllocs()
	for range b.N {
		if _, err := deliveredRequestBody(m, runtime.DefaultMaxMessageSize); err != nil {
			b.Fatal(err)
		}
	}
}

// The answer to a reply's send that says the broker could not push it
// over the requester's connection gets a code the library does not retry:
// the requester is gone, and a resend would only store the reply again.
// An answer that says the requester's connection was not found keeps
// SYSTEM_ERROR, which the library retries through another broker, which
// the requester may have met.
func TestReplySendNotRetriedWhenThePushFailed(t *testing.T) {
	f := newPullFixture(t)
	for i, c := range []struct {
		code   int64
		remark string
		want   int64
	}{
		{codeSystemError, "push reply message to 127.0.0.1@client-1fail.", codeReplyNotPushed},
		{codeSystemError, "push reply message fail, channel of <127.0.0.1@client-1> not found.", codeSystemError},
		{codeSuccess, "", codeSuccess},
	} {
		for _, reqCode := range []int16{codeSendReply, codeSendReplyV2} {
			opaque := int32(100 + 10*i + int(reqCode-codeSendReply))
			waiter := f.wait(opaque)
			f.proxy.intercept(f.table, f.request(reqCode, opaque).Interface())
			v, ok := f.table.LoadAndDelete(opaque)
			if !ok {
				t.Fatal("no future in the table")
			}
			fut := reflect.ValueOf(v)
			res := f.request(0, opaque)
			res.Elem().FieldByIndex(f.proxy.code).SetInt(c.code)
			res.Elem().FieldByIndex(f.proxy.remark).SetString(c.remark)
			fut.Elem().FieldByIndex(f.proxy.response).Set(res)
			cb, err := field(fut.Elem(), "callback")
			if err != nil || cb.IsNil() {
				t.Fatalf("request code %d: the reply's future was not replaced (%v)", reqCode, err)
			}
			cb.Call([]reflect.Value{fut})
			got := waiter.Elem().FieldByIndex(f.proxy.response).Elem().FieldByIndex(f.proxy.code).Int()
			if got != c.want {
				t.Errorf("request code %d, answer %d %q: the sender sees code %d, want %d", reqCode, c.code, c.remark, got, c.want)
			}
		}
	}
}
