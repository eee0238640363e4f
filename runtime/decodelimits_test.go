package runtime

import (
	"bytes"
	"context"
	"encoding/binary"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mqrpc/mqrpc/codec"
)

// A service whose parameters bad bodies aim at: a self-referential tree,
// a slice of large structs, narrow integers.
const shapesService = "limits.Shapes"

type shapeTree struct {
	Kids []shapeTree
}

type shapeItem struct {
	ID   int64
	Tags [8]string
	Vals [24]int64
}

type shapesGrowArgs struct {
	_msgpack struct{} `msgpack:",as_array"`
	Root     shapeTree
}

type shapesStoreArgs struct {
	_msgpack struct{} `msgpack:",as_array"`
	Items    []shapeItem
}

type shapesTuneArgs struct {
	_msgpack struct{} `msgpack:",as_array"`
	Level    int8
	Name     string
}

type shapesResults struct {
	_msgpack struct{} `msgpack:",as_array"`
	R0       int
}

// newShapesServer serves shapesService on a fake transport; calls counts
// the handlers run.
func newShapesServer(tb testing.TB, opts ...ServerOption) (*fakeTransport, *atomic.Int64) {
	tb.Helper()
	calls := new(atomic.Int64)
	method := func(name string, newArgs func() any) MethodDesc {
		return MethodDesc{Name: name, NewArgs: newArgs, Call: func(context.Context, any, any) (any, error) {
			calls.Add(1)
			return &shapesResults{R0: 1}, nil
		}}
	}
	desc := &ServiceDesc{ServiceName: shapesService, Methods: []MethodDesc{
		method("Grow", func() any { return new(shapesGrowArgs) }),
		method("Store", func() any { return new(shapesStoreArgs) }),
		method("Tune", func() any { return new(shapesTuneArgs) }),
	}}
	ft := newFakeTransport()
	s := NewServer(ft, opts...)
	if err := s.RegisterService(desc, struct{}{}); err != nil {
		tb.Fatal(err)
	}
	if err := s.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(s.Stop)
	return ft, calls
}

// callShapes delivers a request with body to method and returns the
// server's reply.
func callShapes(tb testing.TB, ft *fakeTransport, method, id string, body []byte) *Message {
	tb.Helper()
	topic := TopicFor(shapesService)
	msg := &Message{Topic: topic, Tag: method, Key: id, Body: body, Properties: map[string]string{
		PropCorrelationID: id,
		PropMethod:        FullMethodName(shapesService, method),
		PropCodec:         codec.Msgpack.Name(),
		PropDeadline:      strconv.FormatInt(time.Now().Add(time.Minute).UnixMilli(), 10),
	}}
	before := len(ft.sent())
	if err := ft.handler(topic)(context.Background(), msg); err != nil {
		tb.Fatalf("handler returned %v; the server must reply", err)
	}
	sent := ft.sent()
	if len(sent) != before+1 {
		tb.Fatalf("server sent %d replies to one request", len(sent)-before)
	}
	return sent[len(sent)-1].reply
}

// deepShapeTree is a Grow body whose tree is levels deep, two bytes a
// level: 2.09 million levels is the 4.18 MB body that overflowed the
// stack of a server decoding it.
func deepShapeTree(levels int) []byte {
	b := append(make([]byte, 0, 2*levels+3), 0x91)
	b = append(b, bytes.Repeat([]byte{0x91, 0x91}, levels)...)
	return append(b, 0x91, 0xc0)
}

// nilItems is a Store body of n nils, each decoded into a whole shapeItem.
func nilItems(n int) []byte {
	b := make([]byte, 6, 6+n)
	b[0], b[1] = 0x91, 0xdd
	binary.BigEndian.PutUint32(b[2:], uint32(n))
	return append(b, bytes.Repeat([]byte{0xc0}, n)...)
}

func TestServeRefusesBadBodiesAndKeepsServing(t *testing.T) {
	tests := []struct {
		name, method string
		body         []byte
		want         Code
		wantMsg      string
	}{
		{"tree 2.09 million levels deep", "Grow", deepShapeTree(2_090_000), InvalidArgument, "nested too deeply"},
		{"4 million nested arrays under an unknown key", "Grow", append(append([]byte{0x91, 0x81, 0xa3, 'z', 'z', 'z'}, bytes.Repeat([]byte{0x91}, 4_000_000)...), 0xc0), InvalidArgument, "nested too deeply"},
		{"4 million nils for []shapeItem", "Store", nilItems(4_000_000), ResourceExhausted, "decoding would allocate too much"},
		{"map declaring 10 million entries", "Store", []byte{0x91, 0xdf, 0x00, 0x98, 0x96, 0x80, 0xa1, 'k', 0x01}, InvalidArgument, "more values than"},
		{"300 for an int8", "Tune", mustMarshal(t, []any{300, "x"}), InvalidArgument, "argument 1 (level): 300 does not fit in int8"},
		{"one argument short", "Tune", mustMarshal(t, []any{1}), InvalidArgument, "argument 2 (name) is missing: got 1 of 2"},
		{"empty array", "Tune", mustMarshal(t, []any{}), InvalidArgument, "argument 1 (level) is missing: got 0 of 2"},
		{"nil", "Tune", mustMarshal(t, nil), InvalidArgument, "want an array of 2 arguments (level int8, name string), got nil"},
		{"map with unknown keys", "Tune", mustMarshal(t, map[string]int{"x": 1}), InvalidArgument, "got a map of 1"},
		{"one argument too many", "Tune", mustMarshal(t, []any{1, "x", 2}), InvalidArgument, "3 arguments given, want 2 (level int8, name string)"},
	}
	ft, calls := newShapesServer(t)
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reply := callShapes(t, ft, tt.method, "bad-"+strconv.Itoa(i), tt.body)
			if got := statusOf(t, reply); got != tt.want || !strings.Contains(reply.Properties[PropMessage], tt.wantMsg) {
				t.Errorf("status %v %q, want %v saying %q", got, reply.Properties[PropMessage], tt.want, tt.wantMsg)
			}
			if n := calls.Load(); n != 0 {
				t.Fatalf("a handler ran %d times", n)
			}
			// The same server answers the next call.
			ok := callShapes(t, ft, "Tune", "good-"+strconv.Itoa(i), mustMarshal(t, shapesTuneArgs{Level: -128, Name: "n"}))
			if got := statusOf(t, ok); got != OK {
				t.Errorf("a valid call after it: status %v %q", got, ok.Properties[PropMessage])
			}
			calls.Store(0)
		})
	}
}

func TestWithDecodeLimits(t *testing.T) {
	body := deepShapeTree(100) // 203 levels of nesting
	ft, _ := newShapesServer(t)
	if got := statusOf(t, callShapes(t, ft, "Grow", "d1", body)); got != OK {
		t.Fatalf("default limits: status %v", got)
	}
	ft, _ = newShapesServer(t, WithDecodeLimits(codec.Limits{MaxDepth: 200}))
	if reply := callShapes(t, ft, "Grow", "d2", body); statusOf(t, reply) != InvalidArgument {
		t.Errorf("MaxDepth 200: status %v %q, want InvalidArgument", statusOf(t, reply), reply.Properties[PropMessage])
	}
	items := mustMarshal(t, shapesStoreArgs{Items: make([]shapeItem, 100)}) // zero items: a few hundred bytes each from 37
	ft, _ = newShapesServer(t, WithDecodeLimits(codec.Limits{AllocPerByte: 2}))
	if reply := callShapes(t, ft, "Store", "a1", items); statusOf(t, reply) != OK {
		t.Errorf("AllocPerByte 2, small body: status %v %q; the 1 MiB allowance covers it", statusOf(t, reply), reply.Properties[PropMessage])
	}
	big := mustMarshal(t, shapesStoreArgs{Items: make([]shapeItem, 20_000)})
	if reply := callShapes(t, ft, "Store", "a2", big); statusOf(t, reply) != ResourceExhausted {
		t.Errorf("AllocPerByte 2, %d bytes: status %v %q, want ResourceExhausted", len(big), statusOf(t, reply), reply.Properties[PropMessage])
	}
}

// nestedEcho is an echoValue nested levels deep through its P field:
// {"P": {"P": ... nil}}.
func nestedEcho(levels int) []byte {
	return append(bytes.Repeat([]byte{0x81, 0xa1, 'P'}, levels), 0xc0)
}

// FuzzServeNested serves bodies made of a head, count copies of unit and
// a tail: the shape of nesting and repetition bombs, at sizes a mutating
// fuzzer does not reach by itself. Whatever the body, the server answers
// it with a valid code, runs no handler for a refused one, and answers
// the next call. testdata/fuzz holds the bodies that crashed or bloated a
// server.
func FuzzServeNested(f *testing.F) {
	f.Add("Grow", []byte{0x91}, []byte{0x91, 0x91}, uint32(20_000), []byte{0x91, 0xc0})
	f.Add("Grow", []byte{0x91, 0x81, 0xa3, 'z', 'z', 'z'}, []byte{0x91}, uint32(20_000), []byte{0xc0})
	f.Add("Store", []byte{0x91, 0xdd, 0x00, 0x01, 0x86, 0xa0}, []byte{0xc0}, uint32(100_000), []byte{})
	f.Add("Tune", []byte{0x92}, []byte{0xcd, 0x01, 0x2c}, uint32(1), []byte{0xa0})
	const maxBody = 12 << 20
	ft, calls := newShapesServer(f)
	var n atomic.Int64
	f.Fuzz(func(t *testing.T, method string, head, unit []byte, count uint32, tail []byte) {
		if len(unit) > 0 && int(count) > maxBody/len(unit) {
			count = uint32(maxBody / len(unit))
		}
		body := make([]byte, 0, len(head)+len(unit)*int(count)+len(tail))
		body = append(body, head...)
		for range count {
			body = append(body, unit...)
		}
		body = append(body, tail...)
		id := strconv.FormatInt(n.Add(1), 10)
		before := calls.Load()
		reply := callShapes(t, ft, method, "n-"+id, body)
		switch code := statusOf(t, reply); code {
		case OK:
			if calls.Load() != before+1 {
				t.Fatalf("OK without running the handler")
			}
		case InvalidArgument, ResourceExhausted, Unimplemented:
			if calls.Load() != before {
				t.Fatalf("%v, yet the handler ran", code)
			}
		default:
			t.Fatalf("status %v %q", code, reply.Properties[PropMessage])
		}
		if got := statusOf(t, callShapes(t, ft, "Tune", "ok-"+id, mustMarshal(t, shapesTuneArgs{Name: "x"}))); got != OK {
			t.Fatalf("the next call: status %v", got)
		}
	})
}
