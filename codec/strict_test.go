package codec_test

import (
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/mqrpc/mqrpc/codec"
)

// Argument and result structs of the generated shape.
type (
	sumArgs struct {
		_msgpack struct{} `msgpack:",as_array"`
		A        int
		B        string
	}
	sumResults struct {
		_msgpack struct{} `msgpack:",as_array"`
		R0       int
	}
	noArgs struct {
		_msgpack struct{} `msgpack:",as_array"`
	}
	intArgs struct {
		_msgpack struct{} `msgpack:",as_array"`
		I8       int8
		U16      uint16
		I32      int32
		U        uint
		I        int
		State    level
		F        float64
		F32      float32
	}
	level int8
	gauge struct {
		Level  int8
		Counts []uint16
		ByName map[string]int16
		Next   *gauge
	}
	gaugeArgs struct {
		_msgpack struct{} `msgpack:",as_array"`
		In       gauge
	}
)

// raw encodes values with plain msgpack, to build bodies a codec user
// would not send.
func raw(t *testing.T, v any) []byte {
	t.Helper()
	b, err := msgpack.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestPositionalArgumentsMustMatchExactly(t *testing.T) {
	tests := []struct {
		name    string
		body    []byte
		into    any
		wantErr string // "" means accepted
	}{
		{"exact", raw(t, []any{1, "x"}), new(sumArgs), ""},
		{"one short", raw(t, []any{1}), new(sumArgs), "argument 2 (b) is missing: got 1 of 2"},
		{"empty array", raw(t, []any{}), new(sumArgs), "argument 1 (a) is missing: got 0 of 2"},
		{"one more", raw(t, []any{1, "x", 3}), new(sumArgs), "3 arguments given, want 2 (a int, b string)"},
		{"nil", raw(t, nil), new(sumArgs), "want an array of 2 arguments (a int, b string), got nil"},
		{"map by field name", raw(t, map[string]any{"A": 1, "B": "x"}), new(sumArgs), "want an array of 2 arguments (a int, b string), got a map of 2"},
		{"map with unknown keys", raw(t, map[string]any{"zzz": 1}), new(sumArgs), "want an array of 2 arguments (a int, b string), got a map of 1"},
		{"a string", raw(t, "x"), new(sumArgs), "want an array of 2 arguments (a int, b string), got a string"},
		{"wrong type in place", raw(t, []any{"x", 1}), new(sumArgs), "argument 1 (a): want an integer for int, got a string"},
		{"no arguments: empty array", raw(t, []any{}), new(noArgs), ""},
		{"no arguments: nil", raw(t, nil), new(noArgs), ""},
		{"no arguments: one given", raw(t, []any{1}), new(noArgs), "1 arguments given, want 0 ()"},
		{"results: one short", raw(t, []any{}), new(sumResults), "result 1 (r0) is missing: got 0 of 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := codec.Msgpack.Unmarshal(tt.body, tt.into)
			checkErr(t, tt.body, err, tt.wantErr)
		})
	}
}

func checkErr(t *testing.T, body []byte, err error, want string) {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Errorf("Unmarshal(% .32x): %v, want success", body, err)
	case want != "" && err == nil:
		t.Errorf("Unmarshal(% .32x) succeeded, want %q", body, want)
	case want != "" && !strings.Contains(err.Error(), want):
		t.Errorf("Unmarshal(% .32x): %q, want it to say %q", body, err, want)
	case err != nil && (errors.Is(err, codec.ErrTooDeep) || errors.Is(err, codec.ErrTooLarge)):
		t.Errorf("Unmarshal(% .32x): %v is a limit error, want a malformed-body one", body, err)
	}
}

func TestIntegersMustFitTheirType(t *testing.T) {
	ok := []any{int8(0), uint16(0), int32(0), uint(0), 0, 0, 0.0, float32(0)}
	with := func(i int, v any) []any {
		args := append([]any(nil), ok...)
		args[i] = v
		return args
	}
	tests := []struct {
		name    string
		args    []any
		wantErr string
	}{
		{"zeros", ok, ""},
		{"int8 bounds", with(0, -128), ""},
		{"int8 max", with(0, 127), ""},
		{"int8 300", with(0, 300), "argument 1 (i8): 300 does not fit in int8 (-128 to 127)"},
		{"int8 -129", with(0, -129), "argument 1 (i8): -129 does not fit in int8"},
		{"uint16 max", with(1, 65535), ""},
		{"uint16 negative", with(1, -1), "argument 2 (u16): -1 does not fit in uint16 (0 to 65535)"},
		{"uint16 65536", with(1, 65536), "argument 2 (u16): 65536 does not fit in uint16"},
		{"int32 from int64", with(2, int64(math.MaxInt32)+1), "argument 3 (i32): 2147483648 does not fit in int32"},
		{"int32 min", with(2, int64(math.MinInt32)), ""},
		{"uint max", with(3, uint64(math.MaxUint64)), ""},
		{"uint negative", with(3, int64(-5)), "argument 4 (u): -5 does not fit in uint"},
		{"int from uint64 above MaxInt64", with(4, uint64(math.MaxInt64)+1), "argument 5 (i): 9223372036854775808 does not fit in int"},
		{"int min", with(4, int64(math.MinInt64)), ""},
		{"named int8 type", with(5, 200), "argument 6 (state): 200 does not fit in codec_test.level"},
		{"float into int", with(4, 1.5), "argument 5 (i): want an integer for int, got 1.5"},
		{"whole float into int", with(4, 2.0), "argument 5 (i): want an integer for int, got 2"},
		{"nil into int", with(0, nil), "argument 1 (i8): want an integer for int8, got nil"},
		{"integer into float64", with(6, 3), ""},
		{"integer into float32", with(7, -3), ""},
		{"nil into float", with(6, nil), "argument 7 (f): want a number for float64, got nil"},
		{"string into float", with(6, "1"), "argument 7 (f): want a number for float64, got a string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := raw(t, tt.args)
			var got intArgs
			err := codec.Msgpack.Unmarshal(body, &got)
			checkErr(t, body, err, tt.wantErr)
		})
	}
	// What passes arrives unchanged; integers sent for floats arrive as
	// the same number.
	var got intArgs
	if err := codec.Msgpack.Unmarshal(raw(t, []any{-128, 65535, math.MinInt32, uint64(math.MaxUint64), math.MinInt64, 3, 7, -3}), &got); err != nil {
		t.Fatal(err)
	}
	want := intArgs{I8: -128, U16: 65535, I32: math.MinInt32, U: math.MaxUint64, I: math.MinInt64, State: 3, F: 7, F32: -3}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("decoded %+v, want %+v", got, want)
	}
}

// Integers inside structs, slices, maps and pointers are held to their
// types as arguments are.
func TestNestedIntegersAreStrictToo(t *testing.T) {
	tests := []struct {
		name    string
		in      any
		wantErr string
	}{
		{"valid", map[string]any{"Level": 1, "Counts": []int{65535}, "ByName": map[string]int{"a": -32768}, "Next": map[string]any{"Level": -1}}, ""},
		{"struct field", map[string]any{"Level": 300}, "argument 1 (in): .Level: 300 does not fit in int8"},
		{"slice element", map[string]any{"Counts": []int{1, 2, 70000}}, "argument 1 (in): .Counts[2]: 70000 does not fit in uint16"},
		{"map value", map[string]any{"ByName": map[string]int{"k": 40000}}, `argument 1 (in): .ByName["k"]: 40000 does not fit in int16`},
		{"through a pointer", map[string]any{"Next": map[string]any{"Next": map[string]any{"Level": -200}}}, "argument 1 (in): .Next.Next.Level: -200 does not fit in int8"},
		{"array form of a plain struct", []any{1000, nil, nil, nil}, "argument 1 (in): .Level: 1000 does not fit in int8"},
		{"unknown field is skipped", map[string]any{"Other": 1 << 40}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := raw(t, []any{tt.in})
			var got gaugeArgs
			checkErr(t, body, codec.Msgpack.Unmarshal(body, &got), tt.wantErr)
		})
	}
}

// Integers that do not fit are refused for any value decoded, not only
// arguments, and so is nil for a number.
func TestTopLevelIntegersAreStrict(t *testing.T) {
	var i8 int8
	if err := codec.Msgpack.Unmarshal(raw(t, 300), &i8); err == nil || !strings.Contains(err.Error(), "300 does not fit in int8") {
		t.Errorf("300 into an int8: %v (value %d), want an error naming 300", err, i8)
	}
	var u uint32
	if err := codec.Msgpack.Unmarshal(raw(t, -1), &u); err == nil {
		t.Errorf("-1 into a uint32 decoded as %d", u)
	}
	var p *int8
	if err := codec.Msgpack.Unmarshal(raw(t, nil), &p); err != nil || p != nil {
		t.Errorf("nil into a *int8: %v, %v; want a nil pointer", p, err)
	}
}

// An error deep in a body names where it is without growing with the
// depth.
func TestErrorPathIsBounded(t *testing.T) {
	type chain struct {
		Next  *chain
		Level int8
	}
	type chainArgs struct {
		_msgpack struct{} `msgpack:",as_array"`
		C        chain
	}
	var body []byte
	body = append(body, 0x91)
	for range 5000 {
		body = append(body, 0x81, 0xa4, 'N', 'e', 'x', 't')
	}
	body = append(body, 0x81, 0xa5, 'L', 'e', 'v', 'e', 'l', 0xcd, 0x01, 0x2c)
	err := codec.Msgpack.Unmarshal(body, new(chainArgs))
	if err == nil || len(err.Error()) > 400 {
		t.Fatalf("error of %d bytes: %.400v", len(err.Error()), err)
	}
	want := "argument 1 (c)…: .Next.Next.Next"
	if !strings.Contains(err.Error(), want) || !strings.HasSuffix(err.Error(), ".Next.Level: 300 does not fit in int8 (-128 to 127)") {
		t.Errorf("error %q, want it to start with %q and end at the value", err, want)
	}
}
