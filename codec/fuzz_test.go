package codec_test

import (
	"bytes"
	"errors"
	goruntime "runtime"
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/mqrpc/mqrpc/codec"
)

// fuzzTarget has a field of each kind whose decoding allocates by a
// declared length.
type fuzzTarget struct {
	_msgpack struct{} `msgpack:",as_array"`
	Ints     []int64
	Strs     []string
	Bytes    []byte
	Map      map[string][]int
	Any      any
	Nested   [][]point
	When     time.Time
	Ptr      *fuzzTarget
}

// FuzzMsgpackUnmarshal checks that Unmarshal accepts exactly the inputs
// that are one complete msgpack value (msgpack's own Skip is the oracle),
// and that no input panics or allocates out of proportion to its size.
func FuzzMsgpackUnmarshal(f *testing.F) {
	for _, v := range []any{
		addInts{A: 2, B: 3},
		fuzzTarget{Ints: []int64{1}, Strs: []string{"a"}, Bytes: []byte{1}, Map: map[string][]int{"k": {1}}, Any: []any{1, "x"}, When: time.Unix(1, 2)},
		newRecord(),
		map[string]any{"a": []any{nil, true, 1.5, float32(2)}},
	} {
		b, err := codec.Msgpack.Marshal(v)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, b := range hugeLengthInputs {
		f.Add(b)
	}
	for _, b := range badInputs {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var raw msgpack.RawMessage
		err := codec.Msgpack.Unmarshal(data, &raw)
		if errors.Is(err, codec.ErrTooDeep) {
			// Only data deeper than the limit is refused for it, and
			// with a limit above any depth it can have, it is judged
			// as below. (Every level takes a byte.)
			if len(data) <= codec.DefaultMaxDepth {
				t.Fatalf("% .32x: %v, but %d bytes cannot nest that deep", data, err, len(data))
			}
			lc := codec.Msgpack.(codec.LimitedCodec)
			err = lc.UnmarshalLimited(data, &raw, codec.Limits{MaxDepth: len(data) + 1})
		}

		r := bytes.NewReader(data)
		skipErr := msgpack.NewDecoder(r).Skip()
		oneValue := skipErr == nil && r.Len() == 0
		if (err == nil) != oneValue {
			t.Fatalf("Unmarshal(% x) into RawMessage: err = %v, but msgpack's Skip says one complete value = %v (%v)", data, err, oneValue, skipErr)
		}
		if err == nil && raw != nil && !bytes.Equal(raw, data) { // nil decodes to a nil RawMessage
			t.Fatalf("RawMessage = % x, want % x", raw, data)
		}

		// fuzzTarget is of the generated shape, which the codec decodes
		// itself: what it accepts must decode as msgpack decodes it, and
		// the same when []byte values are views.
		var typed, shared, want fuzzTarget
		var typedErr error
		if allocated := allocatedSince(func() { typedErr = codec.Msgpack.Unmarshal(data, &typed) }); allocated > budget(len(data)) {
			t.Fatalf("decoding % .32x (%d bytes) allocated %d bytes, over the bound of %d", data, len(data), allocated, budget(len(data)))
		}
		if typedErr == nil {
			if err := msgpack.Unmarshal(data, &want); err != nil {
				t.Fatalf("codec decoded % x, msgpack refuses it: %v", data, err)
			}
			if err := codec.Msgpack.(codec.SharingCodec).UnmarshalShared(data, &shared); err != nil {
				t.Fatalf("Unmarshal decoded % x, UnmarshalShared refuses it: %v", data, err)
			}
			if w := canonical(t, want); !bytes.Equal(canonical(t, typed), w) || !bytes.Equal(canonical(t, shared), w) {
				t.Fatalf("codec decoded % x to %+v (shared: %+v), msgpack to %+v", data, typed, shared, want)
			}
		}
		var anything any
		_ = codec.Msgpack.Unmarshal(data, &anything)
	})
}

// canonical encodes v with map keys sorted, so that equal values, NaNs
// included, encode to equal bytes.
func canonical(t *testing.T, v any) []byte {
	var buf bytes.Buffer
	enc := msgpack.NewEncoder(&buf)
	enc.SetSortMapKeys(true)
	if err := enc.Encode(v); err != nil {
		t.Fatalf("encode %+v: %v", v, err)
	}
	return buf.Bytes()
}

// badInputs are bodies that crashed or bloated servers, scaled down to
// seed sizes, and bodies a strict decoder refuses.
var badInputs = [][]byte{
	deepTree(10_000),                              // past the depth limit
	nestedUnderUnknownKey(10_001),                 // past it while skipping
	nested(codec.DefaultMaxDepth + 1),             // into any
	arrayOf(100_000, 0xc0),                        // nils for a slice of large structs
	{0x98, 0xcd, 0x01, 0x2c, 0, 0, 0, 0, 0, 0, 0}, // 300 in the first place
	{0x91, 0xc0},                                  // one argument short
	{0xc0},                                        // nil arguments
	{0x80},                                        // a map for arguments
}

// FuzzMsgpackNested decodes bodies made of a head, count copies of unit
// and a tail: the shape of the nesting and repetition bombs, at sizes a
// mutating fuzzer does not reach by itself. testdata/fuzz holds the
// bodies that crashed a server (a tree 2.09 million levels deep) or made
// it allocate a gigabyte.
func FuzzMsgpackNested(f *testing.F) {
	f.Add([]byte{0x91}, []byte{0x91, 0x91}, uint32(20_000), []byte{0x91, 0xc0})
	f.Add([]byte{0x91, 0x81, 0xa3, 'z', 'z', 'z'}, []byte{0x91}, uint32(20_000), []byte{0xc0})
	f.Add([]byte{0x91, 0xdd, 0x00, 0x01, 0x86, 0xa0}, []byte{0xc0}, uint32(100_000), []byte{})
	f.Add([]byte{0x91, 0xdd, 0x00, 0x01, 0x86, 0xa0}, []byte{0x90}, uint32(100_000), []byte{})
	f.Add([]byte{}, []byte{0x81, 0xa1, 'P'}, uint32(20_000), []byte{0xc0})
	const maxBody = 12 << 20
	f.Fuzz(func(t *testing.T, head, unit []byte, count uint32, tail []byte) {
		if len(unit) > 0 && int(count) > maxBody/len(unit) {
			count = uint32(maxBody / len(unit))
		}
		data := make([]byte, 0, len(head)+len(unit)*int(count)+len(tail))
		data = append(data, head...)
		for range count {
			data = append(data, unit...)
		}
		data = append(data, tail...)
		// Within the bound, some targets decode large bodies (ten
		// million nils into a []*item or an any), which is slow under
		// -race and proves nothing more: they get bodies of up to
		// RocketMQ's 4 MiB, or 1 MiB.
		targets := []any{new(treeArgs), new(pointArgs), new(itemsArgs)}
		if len(data) <= 4<<20 {
			targets = append(targets, new(itemPtrsArgs))
		}
		if len(data) <= 1<<20 {
			targets = append(targets, new(fuzzTarget), new(any), new(msgpack.RawMessage))
		}
		for _, v := range targets {
			var err error
			allocated := allocatedSince(func() { err = codec.Msgpack.Unmarshal(data, v) })
			if allocated > budget(len(data)) {
				t.Fatalf("decoding %d bytes into %T allocated %d bytes, over the bound of %d (err %v)", len(data), v, allocated, budget(len(data)), err)
			}
		}
	})
}

// allocatedSince is allocatedBy without the collection before, which
// would slow fuzzing down: the runtime's count of allocated bytes does
// not depend on it.
func allocatedSince(f func()) uint64 {
	var before, after goruntime.MemStats
	goruntime.ReadMemStats(&before)
	f()
	goruntime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}
