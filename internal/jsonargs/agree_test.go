package jsonargs_test

import (
	"reflect"
	"testing"

	"github.com/mqrpc/mqrpc/codec"
	"github.com/mqrpc/mqrpc/internal/jsonargs"
	"github.com/mqrpc/mqrpc/runtime"
)

// levelArgs is the argument struct mqrpcgen writes for
// Set(ctx, level int8, port uint16, ratio float64, n int).
type levelArgs struct {
	_msgpack struct{} `msgpack:",as_array"`
	Level    int8
	Port     uint16
	Ratio    float64
	N        int
}

// The CLI's JSON path refuses exactly the arguments a server refuses:
// what Args converts, the server decodes to the same values; what Args
// refuses, sent anyway (converted by its JSON form alone, as a client
// without the description would), the server refuses too.
func TestArgsAgreeWithTheServersDecoding(t *testing.T) {
	m := &jsonargs.Method{Params: []runtime.Field{
		{Name: "level", Type: "int8"}, {Name: "port", Type: "uint16"}, {Name: "ratio", Type: "float64"}, {Name: "n", Type: "int"},
	}}
	for _, raw := range []string{
		`[1, 2, 3, 4]`,
		`[-128, 65535, 1.5, -9223372036854775808]`,
		`[127, 0, 0, 9223372036854775807]`,
		`[128, 0, 0, 0]`,
		`[-129, 0, 0, 0]`,
		`[0, -1, 0, 0]`,
		`[0, 65536, 0, 0]`,
		`[0, 0, 0, 9223372036854775808]`,
		`[1.5, 0, 0, 0]`,
		`[0, 0, 0, 2.0]`,
		`[null, 0, 0, 0]`,
		`[0, 0, null, 0]`,
		`[0, 0, "1", 0]`,
		`[1, 2, 3]`,
		`[1, 2, 3, 4, 5]`,
		`[]`,
	} {
		typed, argsErr := jsonargs.Args(raw, m)
		values := typed
		if argsErr != nil {
			var err error
			if values, err = jsonargs.Args(raw, nil); err != nil {
				t.Fatalf("%s: %v", raw, err)
			}
		}
		body, err := codec.Msgpack.Marshal(values)
		if err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
		var got levelArgs
		decodeErr := codec.Msgpack.Unmarshal(body, &got)
		switch {
		case argsErr == nil && decodeErr != nil:
			t.Errorf("%s: the CLI accepts it, the server refuses it: %v", raw, decodeErr)
		case argsErr != nil && decodeErr == nil:
			t.Errorf("%s: the CLI refuses it (%v), the server decodes it as %+v", raw, argsErr, got)
		case argsErr == nil:
			want := levelArgs{Level: int8(asInt(typed[0])), Port: uint16(asInt(typed[1])), Ratio: asFloat(typed[2]), N: int(asInt(typed[3]))}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%s: the server decoded %+v, want %+v", raw, got, want)
			}
		}
	}
}

func asInt(v any) int64 {
	switch v := v.(type) {
	case int64:
		return v
	case uint64:
		return int64(v)
	}
	panic(v)
}

func asFloat(v any) float64 {
	switch v := v.(type) {
	case float64:
		return v
	case int64:
		return float64(v)
	}
	panic(v)
}
