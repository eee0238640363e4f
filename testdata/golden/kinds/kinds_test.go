package kinds

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/mqrpc/mqrpc/runtime"
	"github.com/mqrpc/mqrpc/testdata/golden/shared"
	"github.com/mqrpc/mqrpc/testdata/internal/goldentest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func newClient(t *testing.T) (*KindsClient, chan Event) {
	t.Helper()
	events := make(chan Event, 1)
	client := goldentest.Serve(t, func(s *runtime.Server) error { return RegisterKinds(s, Echo{Events: events}) })
	return NewKindsClient(client), events
}

func ctx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// same fails the test unless got, the results of a call, are exactly want.
func same(t *testing.T, err error, got, want []any) {
	t.Helper()
	if err != nil {
		t.Fatalf("call failed: %v", err)
	}
	for i := range want {
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Errorf("result %d: got %#v, want %#v", i, got[i], want[i])
		}
	}
}

func TestBasicTypesRoundTrip(t *testing.T) {
	calc, _ := newClient(t)
	for _, tc := range []struct {
		name string
		in   []any
	}{
		{"zero", []any{false, 0, int8(0), int16(0), int32(0), int64(0), uint(0), uint8(0), uint16(0), uint32(0), uint64(0), float32(0), float64(0), "", byte(0), rune(0)}},
		{"max", []any{true, int(^uint(0) >> 1), int8(127), int16(32767), int32(2147483647), int64(9223372036854775807), ^uint(0), uint8(255), uint16(65535), uint32(4294967295), uint64(18446744073709551615), float32(3.4028235e38), 1.7976931348623157e308, "héllo, 世界", byte(255), rune(0x10FFFF)}},
		{"min", []any{false, -int(^uint(0)>>1) - 1, int8(-128), int16(-32768), int32(-2147483648), int64(-9223372036854775808), uint(1), uint8(1), uint16(1), uint32(1), uint64(1), float32(-1.5e-45), -5e-324, "\x00", byte(1), rune(-1)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := tc.in
			b, i, i8, i16, i32, i64, u, u8, u16, u32, u64, f32, f64, s, by, r, err := calc.Basics(ctx(t),
				v[0].(bool), v[1].(int), v[2].(int8), v[3].(int16), v[4].(int32), v[5].(int64), v[6].(uint), v[7].(uint8), v[8].(uint16), v[9].(uint32), v[10].(uint64), v[11].(float32), v[12].(float64), v[13].(string), v[14].(byte), v[15].(rune))
			same(t, err, []any{b, i, i8, i16, i32, i64, u, u8, u16, u32, u64, f32, f64, s, by, r}, v)
		})
	}
}

func TestStructsRoundTrip(t *testing.T) {
	calc, _ := newClient(t)
	r := Record{
		Name:   "a",
		Tags:   []string{"x", "y"},
		Attrs:  map[string]string{"k": "v"},
		Origin: shared.Point{X: -1, Y: 2},
		Next:   &Record{Name: "b", Tags: []string{"z"}, Attrs: map[string]string{"k2": "v2"}},
	}
	got, err := calc.Struct(ctx(t), r)
	same(t, err, []any{got}, []any{r})

	withHidden := Record{Name: "h", hidden: 7}
	got, err = calc.Struct(ctx(t), withHidden)
	same(t, err, []any{got}, []any{Record{Name: "h"}}) // unexported fields stay home

	anon := struct {
		Name  string `msgpack:"name"`
		Count int
	}{"anon", 3}
	gotAnon, err := calc.Anonymous(ctx(t), anon)
	same(t, err, []any{gotAnon}, []any{anon})
}

func TestPointersRoundTrip(t *testing.T) {
	calc, _ := newClient(t)
	n := 42
	r := &Record{Name: "p", Tags: []string{"t"}}
	gotR, gotN, err := calc.Pointers(ctx(t), r, &n)
	same(t, err, []any{gotR, gotN}, []any{r, &n})

	gotR, gotN, err = calc.Pointers(ctx(t), nil, nil)
	same(t, err, []any{gotR, gotN}, []any{(*Record)(nil), (*int)(nil)})
}

func TestSlicesArraysMapsRoundTrip(t *testing.T) {
	calc, _ := newClient(t)
	s, rs, nested := []string{"a", "", "c"}, []Record{{Name: "r1", Tags: []string{"t"}}, {Name: "r2", Tags: []string{"u"}}}, [][]int{{1, 2}, {3}}
	gotS, gotRs, gotNested, err := calc.Slices(ctx(t), s, rs, nested)
	same(t, err, []any{gotS, gotRs, gotNested}, []any{s, rs, nested})

	gotS, gotRs, gotNested, err = calc.Slices(ctx(t), nil, nil, nil)
	same(t, err, []any{gotS, gotRs, gotNested}, []any{[]string(nil), []Record(nil), [][]int(nil)})

	a := [3]int{7, -8, 9}
	gotA, err := calc.Array(ctx(t), a)
	same(t, err, []any{gotA}, []any{a})

	m, nm, byPoint := map[string]int{"one": 1, "two": 2}, map[int][]string{1: {"a"}, -2: {"b", "c"}}, map[shared.Point]bool{{X: 1, Y: 2}: true, {}: false}
	gotM, gotNm, gotByPoint, err := calc.Maps(ctx(t), m, nm, byPoint)
	same(t, err, []any{gotM, gotNm, gotByPoint}, []any{m, nm, byPoint})
}

func TestTimeRoundTrip(t *testing.T) {
	calc, _ := newClient(t)
	when := time.Date(2025, 11, 26, 12, 34, 56, 789012345, time.UTC)
	d := 90*time.Minute + 1
	gotT, gotD, err := calc.Time(ctx(t), when, d)
	if err != nil {
		t.Fatal(err)
	}
	// A time.Time comes back as the same instant, in the local zone.
	if !gotT.Equal(when) || gotD != d {
		t.Errorf("got %v, %v; want %v, %v", gotT, gotD, when, d)
	}
}

func TestBytesRoundTrip(t *testing.T) {
	calc, _ := newClient(t)
	b := []byte{0, 1, 2, 0xff, 'x'}
	got, err := calc.Bytes(ctx(t), b)
	same(t, err, []any{got}, []any{b})
}

func TestNamedTypesRoundTrip(t *testing.T) {
	calc, _ := newClient(t)
	p, tag, pair, c := shared.Point{X: 3, Y: -4}, shared.Tag("blue"), shared.Pair[string, int]{Key: "k", Value: 9}, Celsius(-273.15)
	gotP, gotTag, gotPair, gotC, err := calc.Named(ctx(t), p, tag, pair, c)
	same(t, err, []any{gotP, gotTag, gotPair, gotC}, []any{p, tag, pair, c})
}

func TestNoArgumentsNoResults(t *testing.T) {
	calc, _ := newClient(t)
	if err := calc.Nothing(ctx(t)); err != nil {
		t.Fatal(err)
	}
}

func TestSeveralResults(t *testing.T) {
	calc, _ := newClient(t)
	first, rest, n, err := calc.Split(ctx(t), "hello")
	same(t, err, []any{first, rest, n}, []any{"h", []string{"ello"}, 5})
}

func TestErrorsReachTheCaller(t *testing.T) {
	calc, _ := newClient(t)
	err := calc.Fail(ctx(t), int(runtime.FailedPrecondition), "not yet")
	var e *runtime.Error
	if !errors.As(err, &e) || e.Code != runtime.FailedPrecondition || e.Message != "not yet" {
		t.Errorf("got %v, want FailedPrecondition: not yet", err)
	}
	if err := calc.Fail(ctx(t), -1, "plain"); runtime.CodeOf(err) != runtime.Unknown {
		t.Errorf("plain error: got %v, want Unknown", err)
	}
}

func TestOneWayReachesTheServer(t *testing.T) {
	calc, events := newClient(t)
	ev := Event{ID: 7, Kind: "created"}
	if err := calc.Notify(ctx(t), ev); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-events:
		if got != ev {
			t.Errorf("server got %+v, want %+v", got, ev)
		}
	case <-ctx(t).Done():
		t.Fatal("the one-way call never reached the server")
	}
}
