package jsonargs_test

import (
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/mqrpc/mqrpc/codec"
	"github.com/mqrpc/mqrpc/internal/jsonargs"
	"github.com/mqrpc/mqrpc/runtime"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// types is what a server describes for the named types below.
var types = []runtime.TypeDescription{
	{Name: "demo.Point", Underlying: "struct", Fields: []runtime.Field{{Name: "X", Type: "int"}, {Name: "Y", Type: "int"}}},
	{Name: "demo.Series", Underlying: "struct", Fields: []runtime.Field{
		{Name: "name", Type: "string"}, {Name: "Values", Type: "[]float64"}, {Name: "Origin", Type: "*demo.Point"},
	}},
	{Name: "demo.Celsius", Underlying: "float64"},
	{Name: "demo.Tag", Underlying: "string"},
	{Name: "demo.Level", Underlying: "int8"},
	{Name: "demo.Tags", Underlying: "[]demo.Tag"},
	{Name: "demo.Loop", Underlying: "*demo.Loop"},
}

func TestValueConvertsEveryKind(t *testing.T) {
	when := time.Date(2024, 1, 2, 3, 4, 5, 600, time.UTC)
	tests := []struct {
		json string
		typ  string
		want any
	}{
		{`true`, "bool", true},
		{`"hi"`, "string", "hi"},
		{`-3`, "int", int64(-3)},
		{`-128`, "int8", int64(-128)},
		{`32767`, "int16", int64(32767)},
		{`-2147483648`, "int32", int64(-2147483648)},
		{`9223372036854775807`, "int64", int64(math.MaxInt64)},
		{`65`, "rune", int64(65)},
		{`7`, "uint", uint64(7)},
		{`255`, "uint8", uint64(255)},
		{`255`, "byte", uint64(255)},
		{`65535`, "uint16", uint64(65535)},
		{`4294967295`, "uint32", uint64(math.MaxUint32)},
		{`18446744073709551615`, "uint64", uint64(math.MaxUint64)},
		{`1.5`, "float64", 1.5},
		{`2`, "float64", 2.0},
		{`0.25`, "float32", float32(0.25)},
		{`"aGkA/w=="`, "[]byte", []byte{'h', 'i', 0, 0xff}},
		{`"aGk="`, "[]uint8", []byte("hi")},
		{`[1,2]`, "[]int", []any{int64(1), int64(2)}},
		{`[[1],[]]`, "[][]int", []any{[]any{int64(1)}, []any{}}},
		{`[1,2,3]`, "[3]int", []any{int64(1), int64(2), int64(3)}},
		{`{"a":1}`, "map[string]int", map[any]any{"a": int64(1)}},
		{`{"-2":["x"]}`, "map[int][]string", map[any]any{int64(-2): []any{"x"}}},
		{`{"true":1}`, "map[bool]int", map[any]any{true: int64(1)}},
		{`"2024-01-02T03:04:05.0000006Z"`, "time.Time", when},
		{`"1m30s"`, "time.Duration", int64(90 * time.Second)},
		{`1500`, "time.Duration", int64(1500)},
		{`5`, "*int", int64(5)},
		{`null`, "*int", nil},
		{`null`, "[]string", nil},
		{`null`, "map[string]int", nil},
		{`null`, "[]byte", nil},
		{`null`, "any", nil},
		{`null`, "*demo.Point", nil},
		{`null`, "demo.Tags", nil},
		{`{"X":1,"Y":-2}`, "demo.Point", map[string]any{"X": int64(1), "Y": int64(-2)}},
		{`{"name":"t","Values":[3,1.5],"Origin":{"X":1}}`, "demo.Series",
			map[string]any{"name": "t", "Values": []any{3.0, 1.5}, "Origin": map[string]any{"X": int64(1)}}},
		{`{}`, "demo.Series", map[string]any{}},
		{`21.5`, "demo.Celsius", 21.5},
		{`-1`, "demo.Level", int64(-1)},
		{`["a","b"]`, "demo.Tags", []any{"a", "b"}},
		{`{"a":true}`, "map[demo.Tag]bool", map[any]any{"a": true}},
		// A type the description does not name converts by its JSON form.
		{`{"k":[1,2.5,"s"]}`, "other.Thing", map[string]any{"k": []any{int64(1), 2.5, "s"}}},
		{`{"k":1}`, "", map[string]any{"k": int64(1)}},
		{`null`, "", nil},
	}
	for _, tt := range tests {
		got, err := jsonargs.Value(decode(t, tt.json), tt.typ, types)
		if err != nil {
			t.Errorf("%s as %s: %v", tt.json, tt.typ, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s as %s: got %#v, want %#v", tt.json, tt.typ, got, tt.want)
		}
	}
}

func TestValueRefusesWhatTheTypeCannotHold(t *testing.T) {
	tests := []struct {
		json, typ string
		want      string
	}{
		{`null`, "int", "int cannot be null: only pointers, slices, maps and interfaces can"},
		{`null`, "string", "string cannot be null"},
		{`null`, "bool", "bool cannot be null"},
		{`null`, "float64", "float64 cannot be null"},
		{`null`, "time.Time", "time.Time cannot be null"},
		{`null`, "time.Duration", "time.Duration cannot be null"},
		{`null`, "[2]int", "[2]int cannot be null"},
		{`null`, "demo.Point", "demo.Point cannot be null"},
		{`null`, "demo.Celsius", "demo.Celsius cannot be null"},
		{`null`, "other.Thing", "other.Thing cannot be null"},
		{`[1,null]`, "[]int", "[1]: int cannot be null"},
		{`{"X":null}`, "demo.Point", ".X: int cannot be null"},
		{`{"Nome":"t"}`, "demo.Series", `demo.Series has no field "Nome"; its fields are name, Values, Origin`},
		{`{"Origin":{"Z":1}}`, "demo.Series", `.Origin: demo.Point has no field "Z"; its fields are X, Y`},
		{`[1]`, "demo.Point", "want a JSON object for demo.Point, got an array"},
		{`"x"`, "int", "want an integer for int, got a string"},
		{`2.5`, "int", "want an integer from -9223372036854775808 to 9223372036854775807 for int, got 2.5"},
		{`128`, "int8", "want an integer from -128 to 127 for int8, got 128"},
		{`-1`, "uint", "want an integer from 0 to 18446744073709551615 for uint, got -1"},
		{`256`, "byte", "want an integer from 0 to 255 for byte, got 256"},
		{`200`, "demo.Level", "for int8, got 200"},
		{`1e39`, "float32", "out of range for float32"},
		{`"1"`, "float64", "want a number for float64, got a string"},
		{`1`, "string", "want a string for string, got the number 1"},
		{`"true"`, "bool", "want true or false for bool, got a string"},
		{`"%%%"`, "[]byte", "want base64 for []byte"},
		{`[104,105]`, "[]byte", "want a base64 string for []byte, got an array"},
		{`{}`, "[]int", "want a JSON array for []int, got an object"},
		{`[1,2]`, "[3]int", "want 3 elements for [3]int, got 2"},
		{`[]`, "map[string]int", "want a JSON object for map[string]int, got an array"},
		{`{"x":1}`, "map[int]int", `key "x": want an integer`},
		{`{"a":"b"}`, "map[string]int", `["a"]: want an integer`},
		{`"yesterday"`, "time.Time", "want an RFC 3339 time"},
		{`1`, "time.Time", "want an RFC 3339 time string for time.Time, got the number 1"},
		{`"soon"`, "time.Duration", `invalid duration "soon"`},
		// A description that goes round in circles ends in an error.
		{`1`, "demo.Loop", "demo.Loop points through more than 64 pointers"},
	}
	for _, tt := range tests {
		got, err := jsonargs.Value(decode(t, tt.json), tt.typ, types)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s as %s: got %#v, error %v; want an error containing %q", tt.json, tt.typ, got, err, tt.want)
		}
	}
}

func TestArgsChecksCountAndNamesTheArgument(t *testing.T) {
	m := &jsonargs.Method{
		Params: []runtime.Field{{Name: "a", Type: "int"}, {Name: "s", Type: "demo.Series"}},
		Types:  types,
	}
	got, err := jsonargs.Args(`[2, {"name":"t"}]`, m)
	if err != nil {
		t.Fatal(err)
	}
	if want := []any{int64(2), map[string]any{"name": "t"}}; !reflect.DeepEqual(got, want) {
		t.Errorf("got %#v, want %#v", got, want)
	}

	_, err = jsonargs.Args(`[null, {}]`, m)
	var ae *jsonargs.ArgError
	if !errors.As(err, &ae) || ae.Index != 1 || ae.Name != "a" {
		t.Fatalf("null for an int: got %v, want an *ArgError for argument 1 (a)", err)
	}
	if want := "argument 1 (a): int cannot be null"; !strings.HasPrefix(err.Error(), want) {
		t.Errorf("got %q, want it to start with %q", err, want)
	}
	_, err = jsonargs.Args(`[1, {"Nome":"t"}]`, m)
	if !errors.As(err, &ae) || ae.Index != 2 ||
		err.Error() != `argument 2 (s): demo.Series has no field "Nome"; its fields are name, Values, Origin` {
		t.Errorf("unknown field: got %v", err)
	}
	unnamed := &jsonargs.Method{Params: []runtime.Field{{Type: "bool"}}}
	if _, err := jsonargs.Args(`[1]`, unnamed); err == nil || err.Error() != "argument 1: want true or false for bool, got the number 1" {
		t.Errorf("unnamed parameter: got %v", err)
	}

	for _, tt := range []struct{ raw, want string }{
		{`[1]`, "1 arguments given, the method takes 2 (a int, s demo.Series)"},
		{`[1,{},3]`, "3 arguments given, the method takes 2"},
		{`2,3`, "arguments must be a JSON array, as in '[2,3]'"},
		{`{"a":1}`, "arguments must be a JSON array"},
		{`[1,{}] [2]`, "unexpected data after the JSON array"},
	} {
		if _, err := jsonargs.Args(tt.raw, m); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: got %v, want an error containing %q", tt.raw, err, tt.want)
		}
	}
}

func TestArgsWithoutADescriptionConvertByJSONForm(t *testing.T) {
	got, err := jsonargs.Args(`[1, -2, 18446744073709551615, 1.5, "s", null, {"k":[true]}]`, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []any{int64(1), int64(-2), uint64(math.MaxUint64), 1.5, "s", nil, map[string]any{"k": []any{true}}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %#v, want %#v", got, want)
	}
}

// What Args makes is what a server's generated argument struct decodes:
// every value arrives as sent.
func TestArgsArriveAsTypedValues(t *testing.T) {
	type point struct{ X, Y int }
	type series struct {
		Name   string `msgpack:"name"`
		Values []float64
		Origin *point
	}
	type args struct {
		_msgpack struct{} `msgpack:",as_array"`
		S        series
		N        int8
		U        uint16
		F        float32
		D        time.Duration
		T        time.Time
		B        []byte
		M        map[int]string
		P        *int
		A        [2]bool
	}
	m := &jsonargs.Method{Types: types, Params: []runtime.Field{
		{Name: "s", Type: "demo.Series"}, {Name: "n", Type: "int8"}, {Name: "u", Type: "uint16"},
		{Name: "f", Type: "float32"}, {Name: "d", Type: "time.Duration"}, {Name: "t", Type: "time.Time"},
		{Name: "b", Type: "[]byte"}, {Name: "m", Type: "map[int]string"}, {Name: "p", Type: "*int"},
		{Name: "a", Type: "[2]bool"},
	}}
	values, err := jsonargs.Args(`[{"name":"t","Values":[1,2.5],"Origin":{"Y":4}}, -7, 65535, 0.5, "2s",
		"2024-05-06T07:08:09.5+02:00", "AAEC", {"3":"c"}, null, [true,false]]`, m)
	if err != nil {
		t.Fatal(err)
	}
	body, err := codec.Msgpack.Marshal(values)
	if err != nil {
		t.Fatal(err)
	}
	var got args
	if err := codec.Msgpack.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	want := args{
		S: series{Name: "t", Values: []float64{1, 2.5}, Origin: &point{Y: 4}},
		N: -7, U: 65535, F: 0.5, D: 2 * time.Second,
		T: time.Date(2024, 5, 6, 5, 8, 9, 5e8, time.UTC),
		B: []byte{0, 1, 2}, M: map[int]string{3: "c"}, A: [2]bool{true, false},
	}
	if !got.T.Equal(want.T) {
		t.Errorf("time: got %v, want %v", got.T, want.T)
	}
	got.T = want.T
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

func TestMessageParsesAnObjectOrAnArrayOfOne(t *testing.T) {
	for _, raw := range []string{`{"name":"a.proto","dependency":["b.proto"]}`, ` [ {"name":"a.proto","dependency":["b.proto"]} ] `} {
		var m descriptorpb.FileDescriptorProto
		if err := jsonargs.Message(raw, &m); err != nil {
			t.Errorf("%s: %v", raw, err)
		} else if m.GetName() != "a.proto" || len(m.GetDependency()) != 1 {
			t.Errorf("%s: got %v", raw, &m)
		}
	}
	var s structpb.Struct
	if err := jsonargs.Message(`{"a":[1,null]}`, &s); err != nil {
		t.Fatal(err)
	}
	want, _ := structpb.NewStruct(map[string]any{"a": []any{1, nil}})
	if !proto.Equal(&s, want) {
		t.Errorf("got %v, want %v", &s, want)
	}

	for _, tt := range []struct{ raw, want string }{
		{`{"nome":"a.proto"}`, `unknown field "nome"`},
		{`[]`, "0 arguments given, the method takes 1 (google.protobuf.FileDescriptorProto)"},
		{`[{},{}]`, "2 arguments given"},
		{`[1,`, "must be a JSON object, or an array of one"},
		{`{"name":1}`, "google.protobuf.FileDescriptorProto: "},
		{`"a.proto"`, "google.protobuf.FileDescriptorProto: "},
	} {
		var m descriptorpb.FileDescriptorProto
		if err := jsonargs.Message(tt.raw, &m); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: got %v, want an error containing %q", tt.raw, err, tt.want)
		}
	}
}

func TestJSONWritesWhatEncodingJSONCannot(t *testing.T) {
	v := []any{math.NaN(), math.Inf(-1), float32(math.Inf(1)), 1.5, map[any]any{int64(1): "a"}, map[string]any{"b": []byte("hi")}}
	if got, want := jsonargs.Marshal(v), `["NaN","-Inf","+Inf",1.5,{"1":"a"},{"b":"aGk="}]`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	if got := jsonargs.SortedKeys(map[string]any{"b": 1, "a": 2}); !reflect.DeepEqual(got, []string{"a", "b"}) {
		t.Errorf("SortedKeys: got %q", got)
	}
}

// decode reads a JSON value the way Args does, numbers as json.Number.
func decode(t *testing.T, s string) any {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("%s: %v", s, err)
	}
	return v
}
