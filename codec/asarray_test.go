package codec_test

import (
	"bytes"
	"testing"
	"unsafe"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/mqrpc/mqrpc/codec"
)

// echoResults is the shape of a generated result struct with a []byte.
type echoResults struct {
	_msgpack struct{} `msgpack:",as_array"`
	R0       []byte
	R1       string
}

// tagged is as_array but has a tagged field: msgpack decodes it itself.
type tagged struct {
	_msgpack struct{} `msgpack:",as_array"`
	A        int      `msgpack:"a,omitempty"`
	B        []byte
}

// The codec decodes generated structs itself; whatever it accepts must
// decode as msgpack decodes it, and whatever msgpack refuses it refuses.
func TestArrayStructsDecodeAsMsgpackDoes(t *testing.T) {
	for _, v := range []any{
		echoResults{R0: []byte("payload"), R1: "x"},
		echoResults{R0: []byte{}, R1: ""},
		echoResults{},
		echoResults{R0: bytes.Repeat([]byte{7}, 70_000)}, // bin32
		echoResults{R0: bytes.Repeat([]byte{7}, 300)},    // bin16
		tagged{A: 1, B: []byte("b")},
		addInts{A: -1, B: 1 << 40},
	} {
		data, err := codec.Msgpack.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		for _, shared := range []bool{false, true} {
			assertDecodesAsMsgpack(t, data, shared)
		}
	}
	// Not an array of the struct's length: refused, though msgpack
	// decodes nil and maps (strict_test.go has the errors).
	for _, data := range [][]byte{
		{0xc0},                   // nil
		{0x91, 0xc4, 0x01, 0x61}, // one value for two fields
		{0x93, 0xc0, 0xa0, 0x01}, // three
		{0x82, 0xa2, 'R', '0', 0xc4, 0x01, 0x61, 0xa2, 'R', '1', 0xa1, 'y'}, // a map
		{0x92, 0xa3, 'a', 'b', 'c', 0xa0},                                   // a str where the []byte is
	} {
		for _, shared := range []bool{false, true} {
			assertDecodesAsMsgpack(t, data, shared)
		}
	}
}

func assertDecodesAsMsgpack(t *testing.T, data []byte, shared bool) {
	t.Helper()
	var got, want echoResults
	var err error
	if shared {
		err = codec.Msgpack.(codec.SharingCodec).UnmarshalShared(data, &got)
	} else {
		err = codec.Msgpack.Unmarshal(data, &got)
	}
	wantErr := msgpack.Unmarshal(data, &want)
	if err == nil && wantErr != nil {
		t.Fatalf("decode % x (shared %v): codec accepts what msgpack refuses: %v", data, shared, wantErr)
	}
	if err == nil && (!bytes.Equal(got.R0, want.R0) || (got.R0 == nil) != (want.R0 == nil) || got.R1 != want.R1) {
		t.Errorf("decode % x (shared %v) = %+v, msgpack's = %+v", data, shared, got, want)
	}
}

func TestUnmarshalSharedTakesBytesAsViews(t *testing.T) {
	data, err := codec.Msgpack.Marshal(echoResults{R0: []byte("payload"), R1: "tail"})
	if err != nil {
		t.Fatal(err)
	}
	var shared, copied echoResults
	if err := codec.Msgpack.(codec.SharingCodec).UnmarshalShared(data, &shared); err != nil {
		t.Fatal(err)
	}
	if err := codec.Msgpack.Unmarshal(data, &copied); err != nil {
		t.Fatal(err)
	}
	if !within(shared.R0, data) {
		t.Error("UnmarshalShared copied the []byte")
	}
	if within(copied.R0, data) {
		t.Error("Unmarshal returned a view of its data")
	}
	// Appending to the view must not write into the data after it.
	_ = append(shared.R0, 'X')
	var again echoResults
	if err := codec.Msgpack.Unmarshal(data, &again); err != nil || again.R1 != "tail" {
		t.Errorf("after appending to the view, data decodes to %+v, %v", again, err)
	}
}

// within reports whether b's first byte lies inside data.
func within(b, data []byte) bool {
	if len(b) == 0 || len(data) == 0 {
		return false
	}
	p, lo := uintptr(unsafe.Pointer(&b[0])), uintptr(unsafe.Pointer(&data[0]))
	return p >= lo && p < lo+uintptr(len(data))
}

func TestArrayStructDecodeAllocations(t *testing.T) {
	data, err := codec.Msgpack.Marshal(addInts{A: 2, B: 3})
	if err != nil {
		t.Fatal(err)
	}
	var out addInts
	if n := testing.AllocsPerRun(100, func() {
		if err := codec.Msgpack.Unmarshal(data, &out); err != nil {
			t.Fatal(err)
		}
	}); n > 0 {
		t.Errorf("decoding Add's arguments allocates %v times, want 0", n)
	}
}
