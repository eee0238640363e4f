package codec_test

import (
	"bytes"
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
	f.Fuzz(func(t *testing.T, data []byte) {
		var raw msgpack.RawMessage
		err := codec.Msgpack.Unmarshal(data, &raw)

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
		if codec.Msgpack.Unmarshal(data, &typed) == nil {
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
