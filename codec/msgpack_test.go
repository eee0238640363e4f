package codec_test

import (
	"bytes"
	"encoding/hex"
	"math"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/mqrpc/mqrpc/codec"
)

// Named types like the ones users put in their service interfaces.
type (
	Celsius  float64
	Status   int
	Tags     []string
	Labels   map[string]string
	ByteBlob []byte
)

type point struct {
	X, Y int
}

type inner struct {
	Name  string
	Point *point
	Temps []Celsius
}

type outer struct {
	ID      uint64
	Inner   inner
	PInner  *inner
	ByName  map[string]point
	Nested  [][]int
	Arr     [3]byte
	When    time.Time
	Timeout time.Duration
	State   Status
	Tags    Tags
	Labels  Labels
	Blob    ByteBlob
	NilBlob []byte
	Empty   []byte
}

// addArgs has the shape mqrpcgen gives argument structs.
type addArgs struct {
	_msgpack struct{} `msgpack:",as_array"`
	A        int
	B        string
}

type addInts struct {
	_msgpack struct{} `msgpack:",as_array"`
	A        int
	B        int
}

// roundTrip encodes v with the msgpack codec and decodes it into a fresh T.
func roundTrip[T any](t *testing.T, v T) T {
	t.Helper()
	b, err := codec.Msgpack.Marshal(v)
	if err != nil {
		t.Fatalf("Marshal(%#v): %v", v, err)
	}
	var got T
	if err := codec.Msgpack.Unmarshal(b, &got); err != nil {
		t.Fatalf("Unmarshal(% x) into %T: %v", b, got, err)
	}
	return got
}

type roundTripCase struct {
	name string
	run  func(t *testing.T)
}

// same is a case whose value must come back reflect.DeepEqual, which also
// tells a nil slice or map from an empty one.
func same[T any](name string, v T) roundTripCase {
	return equalBy(name, v, func(a, b T) bool { return reflect.DeepEqual(a, b) })
}

func equalBy[T any](name string, v T, eq func(got, want T) bool) roundTripCase {
	return roundTripCase{name: name, run: func(t *testing.T) {
		if got := roundTrip(t, v); !eq(got, v) {
			t.Errorf("round trip of %T changed the value:\n got %#v\nwant %#v", v, got, v)
		}
	}}
}

func sameBits64(got, want float64) bool { return math.Float64bits(got) == math.Float64bits(want) }
func sameBits32(got, want float32) bool { return math.Float32bits(got) == math.Float32bits(want) }
func sameInstant(got, want time.Time) bool {
	return got.Equal(want) && got.IsZero() == want.IsZero()
}

// sameOuter compares with reflect.DeepEqual after moving the times to UTC,
// since msgpack keeps a time's instant but not its location.
func sameOuter(got, want outer) bool {
	got.When, want.When = got.When.UTC(), want.When.UTC()
	return reflect.DeepEqual(got, want)
}

func TestMsgpackRoundTrip(t *testing.T) {
	seven := 7
	nanos := time.Date(2024, 2, 29, 23, 59, 59, 123456789, time.UTC)
	tokyo := time.FixedZone("JST", 9*3600)
	newYork := time.FixedZone("EST", -5*3600)
	cases := []roundTripCase{
		same("int8 min", int8(math.MinInt8)),
		same("int8 max", int8(math.MaxInt8)),
		same("int16 min", int16(math.MinInt16)),
		same("int16 max", int16(math.MaxInt16)),
		same("int32 min", int32(math.MinInt32)),
		same("int32 max", int32(math.MaxInt32)),
		same("int64 min", int64(math.MinInt64)),
		same("int64 max", int64(math.MaxInt64)),
		same("int min", int(math.MinInt)),
		same("int max", int(math.MaxInt)),
		same("int zero", 0),
		same("int -1", -1),
		same("int -33 (below negative fixint)", -33),
		same("uint8 max", uint8(math.MaxUint8)),
		same("uint16 max", uint16(math.MaxUint16)),
		same("uint32 max", uint32(math.MaxUint32)),
		same("uint64 max", uint64(math.MaxUint64)),
		same("uint max", uint(math.MaxUint)),
		same("uint zero", uint(0)),

		equalBy("float64 +Inf", math.Inf(1), sameBits64),
		equalBy("float64 -Inf", math.Inf(-1), sameBits64),
		equalBy("float64 -0", math.Copysign(0, -1), sameBits64),
		equalBy("float64 smallest denormal", math.SmallestNonzeroFloat64, sameBits64),
		equalBy("float64 max", math.MaxFloat64, sameBits64),
		equalBy("float64 NaN", math.NaN(), sameBits64),
		equalBy("float64 NaN with payload", math.Float64frombits(0x7ff8_0000_dead_beef), sameBits64),
		equalBy("float64 negative NaN", math.Float64frombits(0xfff8_0000_0000_0001), sameBits64),
		equalBy("float32 +Inf", float32(math.Inf(1)), sameBits32),
		equalBy("float32 -Inf", float32(math.Inf(-1)), sameBits32),
		equalBy("float32 -0", float32(math.Copysign(0, -1)), sameBits32),
		equalBy("float32 max", float32(math.MaxFloat32), sameBits32),
		equalBy("float32 smallest denormal", float32(math.SmallestNonzeroFloat32), sameBits32),
		equalBy("float32 NaN with payload", math.Float32frombits(0x7fc0_0123), sameBits32),

		same("bool", true),
		same("empty string", ""),
		same("ascii string", "hello"),
		same("unicode string", "héllo, 世界 🌍"),
		same("string with NUL", "a\x00b"),
		same("long string", strings.Repeat("x", 70000)),
		same("nil bytes", []byte(nil)),
		same("empty bytes", []byte{}),
		same("bytes", []byte{0, 1, 2, 0xff}),
		same("nil slice", []int(nil)),
		same("empty slice", []int{}),
		same("slice", []int{1, -2, 300}),
		same("nil string slice", []string(nil)),
		same("slice of nil and empty bytes", [][]byte{nil, {}, {1}}),
		same("nil map", map[string]int(nil)),
		same("empty map", map[string]int{}),
		same("map", map[string]int{"a": 1, "b": -1}),
		same("map with int keys", map[int]string{-1: "neg", 1: "pos"}),
		same("map with struct values", map[string]point{"o": {}, "p": {1, 2}}),
		same("map with nil and empty slice values", map[string][]int{"nil": nil, "empty": {}}),
		same("array", [3]int{1, 2, 3}),
		same("byte array", [4]byte{1, 2, 3, 4}),
		same("nil pointer", (*int)(nil)),
		same("pointer", &seven),
		same("nil struct pointer", (*point)(nil)),
		same("struct pointer", &point{X: 1, Y: -1}),
		equalBy("nested struct", outer{
			ID:      math.MaxUint64,
			Inner:   inner{Name: "in", Point: &point{3, 4}, Temps: []Celsius{-40, 36.6}},
			PInner:  &inner{Name: "p"},
			ByName:  map[string]point{"a": {1, 1}},
			Nested:  [][]int{nil, {}, {1, 2}},
			Arr:     [3]byte{9, 8, 7},
			When:    time.Unix(1700000000, 0).UTC(),
			Timeout: 1500 * time.Millisecond,
			State:   Status(3),
			Tags:    Tags{"x", ""},
			Labels:  Labels{"k": "v"},
			Blob:    ByteBlob{1},
			NilBlob: nil,
			Empty:   []byte{},
		}, sameOuter),
		equalBy("zero nested struct", outer{}, sameOuter),

		same("duration", 1500*time.Millisecond),
		same("negative duration", -time.Nanosecond),
		same("max duration", time.Duration(math.MaxInt64)),
		same("named float", Celsius(-273.15)),
		same("named int", Status(-7)),
		same("named slice", Tags{"a", "b"}),
		same("nil named slice", Tags(nil)),
		same("named map", Labels{"a": "b"}),
		same("nil named map", Labels(nil)),
		same("named bytes", ByteBlob{1, 2}),
		same("nil named bytes", ByteBlob(nil)),
		same("as_array args", addArgs{A: -5, B: "five"}),
		same("zero as_array args", addArgs{}),

		equalBy("time with nanoseconds", nanos, sameInstant),
		equalBy("time in a fixed zone", time.Date(2024, 1, 2, 3, 4, 5, 6, tokyo), sameInstant),
		equalBy("time west of UTC", time.Date(1969, 12, 31, 23, 59, 59, 999999999, newYork), sameInstant),
		equalBy("time before 1970", time.Date(1900, 1, 1, 0, 0, 0, 1, time.UTC), sameInstant),
		equalBy("time with monotonic reading", time.Now(), sameInstant),
		equalBy("zero time", time.Time{}, sameInstant),
	}
	for _, c := range cases {
		t.Run(c.name, c.run)
	}
}

// A time's instant survives, but not its location: msgpack's timestamp
// extension has no zone, and the decoder returns local time.
func TestMsgpackTimeKeepsInstantNotLocation(t *testing.T) {
	in := time.Date(2024, 1, 2, 3, 4, 5, 6, time.FixedZone("JST", 9*3600))
	got := roundTrip(t, in)
	if !got.Equal(in) {
		t.Fatalf("instant changed: got %v, want %v", got, in)
	}
	if got.Location() != time.Local {
		t.Errorf("decoded location = %v, want time.Local", got.Location())
	}
	if zero := roundTrip(t, time.Time{}); !zero.IsZero() {
		t.Errorf("zero time came back as %v, not zero", zero)
	}
}

// Pointers inside structs keep nil-ness, and a non-nil pointer to a zero
// value stays non-nil.
func TestMsgpackPointerFields(t *testing.T) {
	type withPtrs struct {
		Nil   *int
		Zero  *int
		Point *point
		Inner *inner
	}
	zero := 0
	in := withPtrs{Zero: &zero, Point: &point{}}
	got := roundTrip(t, in)
	if got.Nil != nil || got.Inner != nil {
		t.Errorf("nil pointers came back non-nil: %#v", got)
	}
	if got.Zero == nil || *got.Zero != 0 || got.Point == nil || *got.Point != (point{}) {
		t.Errorf("pointers to zero values came back as %#v", got)
	}
}

func TestMsgpackWireForm(t *testing.T) {
	tests := []struct {
		name string
		v    any
		want string // hex
	}{
		{"as_array struct of two ints is a fixarray of fixints", addInts{A: 2, B: 3}, "920203"},
		{"as_array args", addArgs{A: 1, B: "a"}, "9201a161"},
		{"negative fixint", addInts{A: -1, B: -32}, "92ffe0"},
		{"int64 that fits a byte is compact", int64(5), "05"},
		{"int that needs 16 bits", 300, "cd012c"},
		{"negative int that needs 8 bits", -33, "d0df"},
		{"nil slice is nil", []int(nil), "c0"},
		{"empty slice is an empty array", []int{}, "90"},
		{"nil bytes are nil", []byte(nil), "c0"},
		{"empty bytes are an empty bin", []byte{}, "c400"},
		{"nil map is nil", map[string]int(nil), "c0"},
		{"empty map is an empty map", map[string]int{}, "80"},
		{"float64 stays 64 bits", 1.5, "cb3ff8000000000000"},
		{"float32 stays 32 bits", float32(1.5), "ca3fc00000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := codec.Msgpack.Marshal(tt.v)
			if err != nil {
				t.Fatal(err)
			}
			if got := hex.EncodeToString(b); got != tt.want {
				t.Errorf("Marshal(%#v) = %s, want %s", tt.v, got, tt.want)
			}
		})
	}
}

func TestMsgpackUnmarshalErrors(t *testing.T) {
	tests := []struct {
		name string
		data []byte
		into any
	}{
		{"trailing bytes after a value", []byte{0x01, 0x02}, new(int)},
		{"trailing bytes after an array", []byte{0x92, 0x02, 0x03, 0xc0}, new(addInts)},
		{"empty input", nil, new(int)},
		{"truncated array", []byte{0x92, 0x02}, new(addInts)},
		{"truncated string", []byte{0xa5, 'a'}, new(string)},
		{"string into int", []byte{0xa1, 'a'}, new(int)},
		{"reserved code", []byte{0xc1}, new(int)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := codec.Msgpack.Unmarshal(tt.data, tt.into); err == nil {
				t.Errorf("Unmarshal(% x) into %T succeeded, want an error", tt.data, tt.into)
			}
		})
	}
}

// hugeLengthInputs declare far more elements than they hold.
var hugeLengthInputs = [][]byte{
	{0xdd, 0xff, 0xff, 0xff, 0xff},                  // array32 of 2^32-1
	{0xdf, 0xff, 0xff, 0xff, 0xff},                  // map32 of 2^32-1
	{0xdc, 0xff, 0xff},                              // array16 of 65535
	{0x92, 0xdd, 0x7f, 0xff, 0xff, 0xff, 0x90},      // inside an array
	{0x81, 0xa1, 'I', 0xdd, 0xff, 0xff, 0xff, 0xff}, // as a struct field
	bytes.Repeat([]byte{0xdc, 0xff, 0xff}, 1000),    // nested headers, each within the bytes left
	{0xdb, 0xff, 0xff, 0xff, 0xff},                  // str32
	{0xc6, 0xff, 0xff, 0xff, 0xff},                  // bin32
	{0xc9, 0xff, 0xff, 0xff, 0xff, 0x01},            // ext32
}

// A body that declares billions of elements must fail fast and cheaply:
// msgpack v5.4.1 would allocate them all up front (upstream issue #401),
// which kills the process with an out-of-memory error no recover catches.
func TestMsgpackHugeDeclaredLengths(t *testing.T) {
	type target struct {
		I   []int64
		S   []string
		M   map[string][]int
		A   any
		Arr [][]int
	}
	intos := []func() any{
		func() any { return new([]int64) },
		func() any { return new([]string) },
		func() any { return new([][]int) },
		func() any { return new([]any) },
		func() any { return new(map[string]int) },
		func() any { return new(any) },
		func() any { return new(target) },
		func() any { return new(string) },
		func() any { return new([]byte) },
		func() any { return new(msgpack.RawMessage) },
	}
	for _, data := range hugeLengthInputs {
		for _, into := range intos {
			v := into()
			allocated := testing.AllocsPerRun(1, func() {
				if err := codec.Msgpack.Unmarshal(data, v); err == nil {
					t.Errorf("Unmarshal(% .16x) into %T succeeded, want an error", data, v)
				}
			})
			if allocated > 10 {
				t.Errorf("Unmarshal(% .16x) into %T made %v allocations before failing", data, v, allocated)
			}
		}
	}
}

// Well-formed values of every msgpack type pass the length check.
func TestMsgpackAcceptsEveryType(t *testing.T) {
	values := []any{
		nil, true, false, 0, 127, -1, -32, -33, 128, 1 << 16, 1 << 33, -(1 << 33),
		uint64(math.MaxUint64), int64(math.MinInt64), float32(1.5), 2.5,
		"", strings.Repeat("s", 31), strings.Repeat("s", 32), strings.Repeat("s", 300), strings.Repeat("s", 70000),
		[]byte{}, make([]byte, 300), make([]byte, 70000),
		[]int{}, make([]int, 15), make([]int, 16), make([]int, 70000),
		map[int]int{}, map[int]bool{1: true}, makeIntMap(16), makeIntMap(70000),
		time.Unix(1, 0), time.Unix(1, 1), time.Unix(1<<34, 1), time.Time{},
		[]any{nil, []any{map[string]any{"a": []any{}}}},
	}
	for _, v := range values {
		b, err := codec.Msgpack.Marshal(v)
		if err != nil {
			t.Fatalf("Marshal(%T): %v", v, err)
		}
		// msgpack decodes nil into a nil RawMessage, anything else into
		// its bytes.
		var raw msgpack.RawMessage
		if err := codec.Msgpack.Unmarshal(b, &raw); err != nil || raw != nil && !bytes.Equal(raw, b) {
			t.Errorf("Unmarshal of %T (% .12x...): %v", v, b, err)
		}
	}
	// Extensions of every size.
	for _, b := range [][]byte{
		{0xd4, 0x01, 0x00}, {0xd5, 0x01, 0, 0}, {0xd6, 0x01, 0, 0, 0, 0},
		{0xd8, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
		{0xc7, 0x00, 0x01}, {0xc8, 0x00, 0x01, 0x01, 0xaa}, {0xc9, 0, 0, 0, 0x02, 0x01, 0xaa, 0xbb},
	} {
		var raw msgpack.RawMessage
		if err := codec.Msgpack.Unmarshal(b, &raw); err != nil || !bytes.Equal(raw, b) {
			t.Errorf("Unmarshal of extension % x: %v", b, err)
		}
	}
}

func makeIntMap(n int) map[int]int {
	m := make(map[int]int, n)
	for i := range n {
		m[i] = i
	}
	return m
}

// Types msgpack cannot carry fail with an error, never a panic: msgpack
// v5.4.1 has no encoder or decoder for uintptr and dereferences nil.
func TestMsgpackUnsupportedTypes(t *testing.T) {
	type withUintptr struct{ P uintptr }
	tests := []struct {
		name string
		v    any
		into any
	}{
		{"uintptr", uintptr(1), new(uintptr)},
		{"uintptr field", withUintptr{P: 1}, new(withUintptr)},
		{"chan", make(chan int), new(chan int)},
		{"func", func() {}, new(func())},
		{"complex128", complex(1, 2), new(complex128)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if b, err := codec.Msgpack.Marshal(tt.v); err == nil {
				t.Errorf("Marshal(%T) = % x, want an error", tt.v, b)
			}
			if err := codec.Msgpack.Unmarshal([]byte{0x01}, tt.into); err == nil {
				t.Errorf("Unmarshal into %T succeeded, want an error", tt.into)
			}
		})
	}
}

type panicky struct{}

func (panicky) EncodeMsgpack(*msgpack.Encoder) error  { panic("boom") }
func (*panicky) DecodeMsgpack(*msgpack.Decoder) error { panic("boom") }

func TestMsgpackCustomCodecPanicIsAnError(t *testing.T) {
	if _, err := codec.Msgpack.Marshal(panicky{}); err == nil || !strings.Contains(err.Error(), "boom") {
		t.Errorf("Marshal of a panicking encoder: err = %v, want one naming the panic", err)
	}
	if err := codec.Msgpack.Unmarshal([]byte{0x01}, new(panicky)); err == nil || !strings.Contains(err.Error(), "boom") {
		t.Errorf("Unmarshal into a panicking decoder: err = %v, want one naming the panic", err)
	}
}

func TestMsgpackMarshalAfterFailure(t *testing.T) {
	if _, err := codec.Msgpack.Marshal(make(chan int)); err == nil {
		t.Fatal("Marshal(chan) succeeded, want an error")
	}
	if _, err := codec.Msgpack.Marshal(uintptr(1)); err == nil {
		t.Fatal("Marshal(uintptr) succeeded, want an error")
	}
	// The pooled encoder must not keep the failed output.
	b, err := codec.Msgpack.Marshal(addInts{A: 2, B: 3})
	if err != nil || !bytes.Equal(b, []byte{0x92, 0x02, 0x03}) {
		t.Fatalf("Marshal after a failure = % x, %v", b, err)
	}
}

// Marshal's result must not alias the pooled buffer that later calls
// overwrite.
func TestMsgpackMarshalResultIsNotReused(t *testing.T) {
	first, err := codec.Msgpack.Marshal("first")
	if err != nil {
		t.Fatal(err)
	}
	want := bytes.Clone(first)
	for range 100 {
		if _, err := codec.Msgpack.Marshal("other!"); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(first, want) {
		t.Fatalf("earlier Marshal result changed from % x to % x", want, first)
	}
}

// A failed decode must not affect the next one, whatever state msgpack
// left in the decoder.
func TestMsgpackUnmarshalAfterFailure(t *testing.T) {
	type withRaw struct {
		Raw msgpack.RawMessage
	}
	good, err := codec.Msgpack.Marshal(withRaw{Raw: msgpack.RawMessage{0x01}})
	if err != nil {
		t.Fatal(err)
	}
	for range 100 {
		var w withRaw
		// A map whose value is a truncated 3-element array.
		if err := codec.Msgpack.Unmarshal([]byte{0x81, 0xa3, 'R', 'a', 'w', 0x93, 0x01}, &w); err == nil {
			t.Fatal("truncated RawMessage decoded without error")
		}
		w = withRaw{}
		if err := codec.Msgpack.Unmarshal(good, &w); err != nil || !bytes.Equal(w.Raw, []byte{0x01}) {
			t.Fatalf("decode after a failure = %#v, %v", w, err)
		}
	}
}

// msgpack v5.4.1 keeps recording every byte it reads after a RawMessage
// decode fails, and Decoder.Reset does not stop it; that is why the codec
// does not pool a decoder that failed. When this test fails, upstream has
// fixed it and the codec's workaround can go.
func TestMsgpackDecoderKeepsRecordingAfterFailedRawDecode(t *testing.T) {
	dec := msgpack.NewDecoder(bytes.NewReader([]byte{0x93, 0x01}))
	if _, err := dec.DecodeRaw(); err == nil {
		t.Fatal("DecodeRaw of a truncated array succeeded")
	}
	dec.Reset(bytes.NewReader([]byte{0x05}))
	var n int
	if err := dec.Decode(&n); err != nil || n != 5 {
		t.Fatalf("Decode after Reset = %d, %v", n, err)
	}
	if rec := reflect.ValueOf(dec).Elem().FieldByName("rec"); rec.IsNil() {
		t.Error("msgpack no longer keeps recording after a failed DecodeRaw: the codec's no-pool-on-error workaround can go")
	}
}

func TestMsgpackConcurrentUse(t *testing.T) {
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				in := addArgs{A: g*1000 + i, B: strings.Repeat("y", i)}
				b, err := codec.Msgpack.Marshal(in)
				if err != nil {
					t.Error(err)
					return
				}
				var out addArgs
				if err := codec.Msgpack.Unmarshal(b, &out); err != nil || out != in {
					t.Errorf("round trip of %+v = %+v, %v", in, out, err)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestMsgpackName(t *testing.T) {
	if got := codec.Msgpack.Name(); got != "msgpack" {
		t.Fatalf("Name() = %q, want msgpack", got)
	}
}

// referenceEncoding is v as a fresh msgpack encoder with the codec's
// settings writes it.
func referenceEncoding(t *testing.T, v any) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := msgpack.NewEncoder(&buf)
	enc.UseCompactInts(true)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// newPieces returns a value of about size bytes that the encoder writes
// in pieces of 33 bytes.
func newPieces(size int) stringsArgs {
	var v stringsArgs
	for n := 0; n < size; n += 33 { // fixstr of 32 bytes
		v.S = append(v.S, strings.Repeat(string(rune('a'+len(v.S)%26)), 32))
	}
	return v
}

// Values around and far past the pooled buffer's size, written at once or
// in pieces, in an order that makes the codec size buffers both from a
// remembered size that is too small and from one that is too large, come
// out as msgpack writes them, and earlier results are left alone.
func TestMsgpackLargeValues(t *testing.T) {
	sizes := []int{0, 100, 64<<10 - 10, 64 << 10, 64<<10 + 10, 200 << 10, 1 << 20, 3 << 20, 130 << 10, 64<<10 + 1, 2 << 20, 10}
	type result struct {
		v    any
		want []byte
		got  []byte
	}
	var results []result
	for _, size := range sizes {
		blob := make([]byte, size)
		for i := range blob {
			blob[i] = byte(i*31 + size)
		}
		for _, v := range []any{blobArgs{P: blob}, newPieces(size), addInts{A: size, B: 1}} {
			got, err := codec.Msgpack.Marshal(v)
			if err != nil {
				t.Fatalf("Marshal(%T of %d bytes): %v", v, size, err)
			}
			want := referenceEncoding(t, v)
			if !bytes.Equal(got, want) {
				t.Fatalf("Marshal(%T of %d bytes) = %d bytes, differs from msgpack's %d bytes", v, size, len(got), len(want))
			}
			results = append(results, result{v, want, got})
		}
	}
	for i, r := range results {
		if !bytes.Equal(r.got, r.want) {
			t.Errorf("result %d (%T) changed after later calls", i, r.v)
		}
		switch v := r.v.(type) {
		case blobArgs:
			var back blobArgs
			if err := codec.Msgpack.Unmarshal(r.got, &back); err != nil || !bytes.Equal(back.P, v.P) {
				t.Errorf("round trip of %d bytes: %v", len(v.P), err)
			}
		case stringsArgs:
			var back stringsArgs
			if err := codec.Msgpack.Unmarshal(r.got, &back); err != nil || !reflect.DeepEqual(back.S, v.S) {
				t.Errorf("round trip of %d strings: %v", len(v.S), err)
			}
		}
	}
}

// bytesAllocated is the average number of bytes f allocates.
func bytesAllocated(runs int, f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range runs {
		f()
	}
	runtime.ReadMemStats(&after)
	return (after.TotalAlloc - before.TotalAlloc) / uint64(runs)
}

// A large value costs one buffer of its size to encode, however it is
// written: not the doubling of a buffer up to it.
func TestMsgpackLargeMarshalAllocatesItsSize(t *testing.T) {
	for _, v := range []any{newPieces(1 << 20), blobArgs{P: make([]byte, 1<<20)}} {
		out, err := codec.Msgpack.Marshal(v) // learns the size
		if err != nil {
			t.Fatal(err)
		}
		allocated := bytesAllocated(10, func() {
			if _, err := codec.Msgpack.Marshal(v); err != nil {
				t.Fatal(err)
			}
		})
		if limit := uint64(len(out)) * 5 / 4; allocated > limit {
			t.Errorf("Marshal(%T) of %d bytes allocated %d bytes, want at most %d", v, len(out), allocated, limit)
		}
	}
}
