package codec_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"runtime"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/mqrpc/mqrpc/codec"
	kitchenpb "github.com/mqrpc/mqrpc/testdata/proto/kitchen"
)

// Types a service may take, which bodies made to hurt aim at.
type (
	// tree is self-referential: any depth is a valid value.
	tree struct {
		Kids []tree
	}
	treeArgs struct {
		_msgpack struct{} `msgpack:",as_array"`
		Root     tree
	}
	// item is a few hundred bytes in memory and one byte (nil) on the wire.
	item struct {
		ID   int64
		Name string
		Tags [8]string
		Vals [24]int64
	}
	itemsArgs struct {
		_msgpack struct{} `msgpack:",as_array"`
		Items    []item
	}
	itemPtrsArgs struct {
		_msgpack struct{} `msgpack:",as_array"`
		Items    []*item
	}
	pointArgs struct {
		_msgpack struct{} `msgpack:",as_array"`
		P        point
	}
	countsArgs struct {
		_msgpack struct{} `msgpack:",as_array"`
		M        map[string]int
	}
	nameArgs struct {
		_msgpack struct{} `msgpack:",as_array"`
		S        string
	}
)

// deepTree is a treeArgs body whose tree is levels deep, written in the
// array form msgpack decodes structs from: two bytes a level, so 2.09
// million levels fit in RocketMQ's default 4 MiB message.
func deepTree(levels int) []byte {
	b := make([]byte, 0, 2*levels+3)
	b = append(b, 0x91) // the arguments
	for range levels {
		b = append(b, 0x91, 0x91) // a tree of one field, Kids of one tree
	}
	return append(b, 0x91, 0xc0) // the last tree, with nil Kids
}

// nestedUnderUnknownKey is a pointArgs body whose point has an unknown
// field holding n nested one-element arrays.
func nestedUnderUnknownKey(n int) []byte {
	b := append(make([]byte, 0, n+8), 0x91, 0x81, 0xa3, 'z', 'z', 'z')
	b = append(b, bytes.Repeat([]byte{0x91}, n)...)
	return append(b, 0xc0)
}

// arrayOf is an array32 of n copies of elem, as the single argument.
func arrayOf(n int, elem byte) []byte {
	b := make([]byte, 6, 6+n)
	b[0], b[1] = 0x91, 0xdd
	binary.BigEndian.PutUint32(b[2:], uint32(n))
	return append(b, bytes.Repeat([]byte{elem}, n)...)
}

// allocatedBy returns the bytes f allocates, from the runtime's own count.
func allocatedBy(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// budget is what Limits{} allows decoding a body of n bytes to allocate:
// DefaultAllocPerByte per byte and 1 MiB.
func budget(n int) uint64 { return codec.DefaultAllocPerByte*uint64(n) + 1<<20 }

// Each body here killed a server or grew it by a gigabyte. Now each is
// refused, with the kind of error that says why, and refusing it
// allocates a small fraction of the stated bound.
func TestBombsAreRefusedCheaply(t *testing.T) {
	const mib = 1 << 20
	tests := []struct {
		name string
		body []byte
		into func() any
		want error // ErrTooDeep, ErrTooLarge, or nil for a malformed body
		// maxAlloc is what refusing may allocate, far under the bound.
		maxAlloc uint64
	}{
		{"tree 2.09 million levels deep", deepTree(2_090_000), func() any { return new(treeArgs) }, codec.ErrTooDeep, mib},
		{"4.2 million nested arrays under an unknown key", nestedUnderUnknownKey(4_200_000), func() any { return new(pointArgs) }, codec.ErrTooDeep, mib},
		{"4.2 million nested arrays into any", nestedUnderUnknownKey(4_200_000)[6:], func() any { return new(any) }, codec.ErrTooDeep, mib},
		{"10 million nils for []item", arrayOf(10_000_000, 0xc0), func() any { return new(itemsArgs) }, codec.ErrTooLarge, mib},
		{"4 million nils for []item (4 MB)", arrayOf(4_000_000, 0xc0), func() any { return new(itemsArgs) }, codec.ErrTooLarge, mib},
		{"4 million empty arrays for []*item", arrayOf(4_000_000, 0x90), func() any { return new(itemPtrsArgs) }, codec.ErrTooLarge, mib},
		{"map declaring 10 million entries, 1 present", []byte{0x91, 0xdf, 0x00, 0x98, 0x96, 0x80, 0xa1, 'k', 0x01}, func() any { return new(countsArgs) }, nil, mib},
		{"str32 of 4 GiB with 10 bytes", append([]byte{0x91, 0xdb, 0xff, 0xff, 0xff, 0xff}, "0123456789"...), func() any { return new(nameArgs) }, nil, mib},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := tt.into()
			var err error
			allocated := allocatedBy(func() { err = codec.Msgpack.Unmarshal(tt.body, v) })
			if err == nil {
				t.Fatalf("a %d-byte bomb was decoded", len(tt.body))
			}
			for _, sentinel := range []error{codec.ErrTooDeep, codec.ErrTooLarge} {
				if got, want := errors.Is(err, sentinel), sentinel == tt.want; got != want {
					t.Errorf("errors.Is(%q, %v) = %v, want %v", err, sentinel, got, want)
				}
			}
			if b := budget(len(tt.body)); allocated > b {
				t.Errorf("refusing %d bytes allocated %d bytes, over the bound of %d", len(tt.body), allocated, b)
			}
			if allocated > tt.maxAlloc {
				t.Errorf("refusing %d bytes allocated %d bytes, want at most %d", len(tt.body), allocated, tt.maxAlloc)
			}
			t.Logf("%d-byte body: %v; %d bytes allocated", len(tt.body), err, allocated)
		})
	}
}

// Legitimate large values, which decode into much more memory than they
// take on the wire, stay within the bound and decode.
func TestLegitimateValuesFitTheBound(t *testing.T) {
	ints := make(map[int]int, 200_000)
	for i := range 200_000 {
		ints[i] = i
	}
	anys := make([]any, 500_000)
	for i := range anys {
		anys[i] = i % 100
	}
	items := make([]item, 50_000)
	for i := range items {
		items[i].ID = int64(i)
	}
	tests := []struct {
		name string
		v    any
		into func() any
	}{
		{"a million empty strings", make([]string, 1_000_000), func() any { return new([]string) }},
		{"50,000 mostly zero structs", items, func() any { return new([]item) }},
		{"a map of 200,000 small ints", ints, func() any { return new(map[int]int) }},
		{"half a million small ints as any", anys, func() any { return new([]any) }},
		{"a million nil pointers", make([]*item, 1_000_000), func() any { return new([]*item) }},
		{"a tree 4,998 levels deep (9,999 of nesting)", nil, func() any { return new(treeArgs) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body []byte
			if tt.v == nil {
				// Each level of a tree is two of msgpack (the tree's
				// array and its Kids); with the arguments, the last tree
				// and its nil Kids, 2*4998+3 = 9,999 levels.
				body = deepTree(4_998)
			} else {
				var err error
				if body, err = codec.Msgpack.Marshal(tt.v); err != nil {
					t.Fatal(err)
				}
			}
			v := tt.into()
			var err error
			allocated := allocatedBy(func() { err = codec.Msgpack.Unmarshal(body, v) })
			if err != nil {
				t.Fatalf("%d-byte body refused: %v", len(body), err)
			}
			if b := budget(len(body)); allocated > b {
				t.Errorf("decoding %d bytes allocated %d bytes, over the bound of %d", len(body), allocated, b)
			}
			t.Logf("%d-byte body: %d bytes allocated (%.1f per byte)", len(body), allocated, float64(allocated)/float64(len(body)))
		})
	}
}

// nested is n levels of values: n-1 one-element arrays around a nil.
func nested(n int) []byte {
	return append(bytes.Repeat([]byte{0x91}, n-1), 0xc0)
}

func TestDepthLimitIsExact(t *testing.T) {
	for _, max := range []int{1, 2, 100, codec.DefaultMaxDepth} {
		l := codec.Limits{MaxDepth: max}
		if max == codec.DefaultMaxDepth {
			l = codec.Limits{} // the zero value means the default
		}
		var v any
		if err := codec.Msgpack.(codec.LimitedCodec).UnmarshalLimited(nested(max), &v, l); err != nil {
			t.Errorf("MaxDepth %d: %d levels refused: %v", max, max, err)
		}
		err := codec.Msgpack.(codec.LimitedCodec).UnmarshalLimited(nested(max+1), &v, l)
		if !errors.Is(err, codec.ErrTooDeep) {
			t.Errorf("MaxDepth %d: %d levels: %v, want ErrTooDeep", max, max+1, err)
		}
	}
}

func TestAllocPerByteIsConfigurable(t *testing.T) {
	body, err := codec.Msgpack.Marshal(make([]string, 100_000)) // 16 bytes decoded per byte
	if err != nil {
		t.Fatal(err)
	}
	var v []string
	lc := codec.Msgpack.(codec.LimitedCodec)
	if err := lc.UnmarshalLimited(body, &v, codec.Limits{}); err != nil {
		t.Errorf("default limits: %v", err)
	}
	err = lc.UnmarshalLimited(body, &v, codec.Limits{AllocPerByte: 8})
	if !errors.Is(err, codec.ErrTooLarge) || !strings.Contains(err.Error(), "for a body of") {
		t.Errorf("AllocPerByte 8: %v, want ErrTooLarge with the figures", err)
	}
}

// deepSinkWire is a kitchen Sink nested levels deep through its child
// field, in protobuf's binary form.
func deepSinkWire(levels int) []byte {
	sizes := make([]int, levels+1) // sizes[i]: the message i levels from the bottom
	tag := protowire.SizeTag(42)
	for i := 1; i <= levels; i++ {
		sizes[i] = tag + protowire.SizeBytes(sizes[i-1])
	}
	b := make([]byte, 0, sizes[levels])
	for i := levels; i >= 1; i-- {
		b = protowire.AppendTag(b, 42, protowire.BytesType)
		b = protowire.AppendVarint(b, uint64(sizes[i-1]))
	}
	return b
}

// deepSinkMsgpack is the same in the msgpack form: {42: {42: ... {}}}.
func deepSinkMsgpack(levels int) []byte {
	return append(bytes.Repeat([]byte{0x81, 42}, levels), 0x80)
}

func TestProtoDepthIsBounded(t *testing.T) {
	// The first decode of a message type builds protobuf's tables for it,
	// which is not the cost of a body.
	if err := proto.Unmarshal(deepSinkWire(3), new(kitchenpb.Sink)); err != nil {
		t.Fatal(err)
	}
	for _, c := range []codec.Codec{codec.Proto, codec.Msgpack} {
		deep := deepSinkWire
		if c == codec.Msgpack {
			deep = deepSinkMsgpack
		}
		lc := c.(codec.LimitedCodec)
		for _, tt := range []struct {
			levels int
			limits codec.Limits
			ok     bool
		}{
			{99, codec.Limits{MaxDepth: 100}, true},
			{101, codec.Limits{MaxDepth: 100}, false},
			{1_000_000, codec.Limits{}, false},
		} {
			body := deep(tt.levels)
			var err error
			allocated := allocatedBy(func() { err = lc.UnmarshalLimited(body, new(kitchenpb.Sink), tt.limits) })
			if tt.ok && err != nil {
				t.Errorf("%s: %d levels, MaxDepth %d: %v", c.Name(), tt.levels, tt.limits.MaxDepth, err)
			}
			if !tt.ok && !errors.Is(err, codec.ErrTooDeep) {
				t.Errorf("%s: %d levels, MaxDepth %d: %v, want ErrTooDeep", c.Name(), tt.levels, tt.limits.MaxDepth, err)
			}
			if b := budget(len(body)); allocated > b {
				t.Errorf("%s: %d levels: allocated %d bytes, over the bound of %d", c.Name(), tt.levels, allocated, b)
			}
		}
	}
}

func TestProtoAllocationIsBounded(t *testing.T) {
	many := &kitchenpb.Sink{}
	for range 200_000 {
		many.Inners = append(many.Inners, &kitchenpb.Sink_Inner{})
	}
	labelled := &kitchenpb.Sink{}
	for range 20_000 {
		labelled.Inners = append(labelled.Inners, &kitchenpb.Sink_Inner{Label: "label-12"})
	}
	for _, c := range []codec.Codec{codec.Proto, codec.Msgpack} {
		lc := c.(codec.LimitedCodec)
		for _, m := range []proto.Message{many, labelled} {
			body, err := c.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			// A tight budget refuses what the default allows.
			err = lc.UnmarshalLimited(body, new(kitchenpb.Sink), codec.Limits{AllocPerByte: 2})
			if !errors.Is(err, codec.ErrTooLarge) {
				t.Errorf("%s: %d bytes with AllocPerByte 2: %v, want ErrTooLarge", c.Name(), len(body), err)
			}
			got := new(kitchenpb.Sink)
			allocated := allocatedBy(func() { err = lc.UnmarshalLimited(body, got, codec.Limits{}) })
			// Empty messages are one byte each in msgpack and a
			// Sink_Inner takes more than 64: refused by default.
			emptyInMsgpack := c == codec.Msgpack && m == many
			switch {
			case emptyInMsgpack && !errors.Is(err, codec.ErrTooLarge):
				t.Errorf("%s: %d one-byte messages: %v, want ErrTooLarge", c.Name(), len(many.Inners), err)
			case !emptyInMsgpack && err != nil:
				t.Errorf("%s: %d bytes: %v", c.Name(), len(body), err)
			case !emptyInMsgpack && !proto.Equal(got, m):
				t.Errorf("%s: decoded message differs", c.Name())
			}
			if b := budget(len(body)); allocated > b {
				t.Errorf("%s: %d bytes: allocated %d bytes, over the bound of %d", c.Name(), len(body), allocated, b)
			}
		}
	}
}
