package main

import (
	"slices"
	"strings"
	"testing"

	"github.com/mqrpc/mqrpc/codec"
	"github.com/mqrpc/mqrpc/examples/calcpb/calcv1"
	"github.com/mqrpc/mqrpc/runtime"
	"github.com/mqrpc/mqrpc/runtime/memtransport"
	"github.com/mqrpc/mqrpc/testdata/golden/kinds"
	"github.com/mqrpc/mqrpc/testdata/golden/shared"
)

// description is what a server of the kinds and calcv1 services answers
// to mqrpc.Describe.
func description(t *testing.T) *replayMethods {
	t.Helper()
	tr := memtransport.New()
	t.Cleanup(func() { _ = tr.Close() })
	srv := runtime.NewServer(tr)
	if err := kinds.RegisterKinds(srv, kinds.Echo{}); err != nil {
		t.Fatal(err)
	}
	if err := calcv1.RegisterCalculator(srv, calcv1.Server{}); err != nil {
		t.Fatal(err)
	}
	rm := &replayMethods{services: map[string]*runtime.ServiceDescription{}}
	d := srv.Description()
	for i := range d.Services {
		rm.services[d.Services[i].Name] = &d.Services[i]
	}
	return rm
}

// okReply is the reply a server sends with results v, msgpack-encoded.
func okReply(t *testing.T, v any) *replyView {
	t.Helper()
	b, err := codec.Msgpack.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return viewOf(&runtime.Message{Body: b, Properties: map[string]string{runtime.PropCodec: "msgpack"}})
}

func TestReplyChangesNameTheValuesThatChanged(t *testing.T) {
	rm := description(t)
	record := func(x int, attrs map[string]string, tags ...string) []any {
		return []any{kinds.Record{Name: "n", Tags: tags, Attrs: attrs, Origin: shared.Point{X: x, Y: 2}}}
	}
	maps := func(n int, s string) []any {
		return []any{map[string]int{"Name": n}, map[int][]string{2: {"a"}, 10: {s}}, map[shared.Point]bool{}}
	}
	for _, tt := range []struct {
		name           string
		method         string
		described      bool
		stored, replay *replyView
		want           []string
	}{
		{
			name: "struct fields, a map entry gone, a slice grown", method: kinds.Kinds_Struct_FullMethodName, described: true,
			stored: okReply(t, record(1, map[string]string{"k": "a", "j": "b"}, "x")),
			replay: okReply(t, record(2, map[string]string{"j": "b"}, "x", "y")),
			want: []string{
				`results[0].Attrs["k"]: "a" -> (absent)`,
				`results[0].Origin.X: 1 -> 2`,
				`results[0].Tags[1]: (absent) -> "y"`,
			},
		},
		{
			// Without a description, exported Go names read as
			// struct fields and other keys as map keys.
			name: "struct guessed without a description", method: kinds.Kinds_Struct_FullMethodName,
			stored: okReply(t, record(1, map[string]string{"k": "a"})),
			replay: okReply(t, record(2, map[string]string{})),
			want: []string{
				`results[0].Attrs["k"]: "a" -> (absent)`,
				`results[0].Origin.X: 1 -> 2`,
			},
		},
		{
			// The description says the first result is a map: its
			// key "Name" is no field; integer keys in their order.
			name: "map keys by the result types", method: kinds.Kinds_Maps_FullMethodName, described: true,
			stored: okReply(t, maps(1, "b")),
			replay: okReply(t, maps(2, "c")),
			want: []string{
				`results[0]["Name"]: 1 -> 2`,
				`results[1][10][0]: "b" -> "c"`,
			},
		},
		{
			name: "status", method: kinds.Kinds_Struct_FullMethodName, described: true,
			stored: okReply(t, record(1, nil)),
			replay: &replyView{Status: "invalid_argument", Code: int(runtime.InvalidArgument), Message: "bad"},
			want:   []string{`status: "ok" -> "invalid_argument: bad"`},
		},
		{
			name: "protobuf response fields by name", method: calcv1.Calculator_Add_FullMethodName, described: true,
			stored: okReply(t, &calcv1.AddResponse{Sum: 5}),
			replay: okReply(t, &calcv1.AddResponse{Sum: 6}),
			want:   []string{`response.sum: 5 -> 6`},
		},
		{
			// 5 as a fixint and as an int64: equal once decoded.
			name: "bodies that differ only in their bytes", method: kinds.Kinds_Struct_FullMethodName, described: true,
			stored: viewOf(&runtime.Message{Body: []byte{0x91, 0x05}}),
			replay: viewOf(&runtime.Message{Body: []byte{0x91, 0xd3, 0, 0, 0, 0, 0, 0, 0, 5}}),
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := &replayed{Method: tt.method, Stored: tt.stored, Replay: tt.replay}
			if tt.described {
				r.svc, r.desc = rm.method(tt.method)
				if r.desc == nil {
					t.Fatalf("no description of %s", tt.method)
				}
			}
			var got []string
			for _, c := range replyChanges(r) {
				got = append(got, c.String())
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestSplitMapType(t *testing.T) {
	for _, tt := range []struct{ typ, key, elem string }{
		{"map[string]int", "string", "int"},
		{"map[shared.Pair[string, int]]bool", "shared.Pair[string, int]", "bool"},
		{"map[int]map[string][]int", "int", "map[string][]int"},
	} {
		k, e, ok := splitMapType(tt.typ)
		if !ok || k != tt.key || e != tt.elem {
			t.Errorf("splitMapType(%q) = %q, %q, %v", tt.typ, k, e, ok)
		}
	}
	if _, _, ok := splitMapType("[]int"); ok {
		t.Error("[]int split as a map")
	}
}
