package kinds

import (
	"context"
	"errors"
	"time"

	"github.com/mqrpc/mqrpc/runtime"
	"github.com/mqrpc/mqrpc/testdata/golden/shared"
)

var _ Kinds = Echo{}

// Echo implements Kinds by returning what it is given. Notify sends its
// event to Events, when that is not nil.
type Echo struct{ Events chan Event }

func (Echo) Basics(_ context.Context, b bool, i int, i8 int8, i16 int16, i32 int32, i64 int64, u uint, u8 uint8, u16 uint16, u32 uint32, u64 uint64, f32 float32, f64 float64, s string, by byte, r rune) (bool, int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, float32, float64, string, byte, rune, error) {
	return b, i, i8, i16, i32, i64, u, u8, u16, u32, u64, f32, f64, s, by, r, nil
}

func (Echo) Struct(_ context.Context, r Record) (Record, error) { return r, nil }

func (Echo) Anonymous(_ context.Context, v struct {
	Name  string `msgpack:"name"`
	Count int
}) (struct {
	Name  string `msgpack:"name"`
	Count int
}, error) {
	return v, nil
}

func (Echo) Pointers(_ context.Context, r *Record, n *int) (*Record, *int, error) { return r, n, nil }

func (Echo) Slices(_ context.Context, s []string, rs []Record, nested [][]int) ([]string, []Record, [][]int, error) {
	return s, rs, nested, nil
}

func (Echo) Array(_ context.Context, a [3]int) ([3]int, error) { return a, nil }

func (Echo) Maps(_ context.Context, m map[string]int, nested map[int][]string, byPoint map[shared.Point]bool) (map[string]int, map[int][]string, map[shared.Point]bool, error) {
	return m, nested, byPoint, nil
}

func (Echo) Time(_ context.Context, t time.Time, d time.Duration) (time.Time, time.Duration, error) {
	return t, d, nil
}

func (Echo) Bytes(_ context.Context, b []byte) ([]byte, error) { return b, nil }

func (Echo) Named(_ context.Context, p shared.Point, t shared.Tag, pair shared.Pair[string, int], c Celsius) (shared.Point, shared.Tag, shared.Pair[string, int], Celsius, error) {
	return p, t, pair, c, nil
}

func (Echo) Nothing(context.Context) error { return nil }

func (Echo) Split(_ context.Context, s string) (string, []string, int, error) {
	if s == "" {
		return "", nil, 0, nil
	}
	return s[:1], []string{s[1:]}, len(s), nil
}

func (Echo) Fail(_ context.Context, code int, msg string) error {
	if code < 0 {
		return errors.New(msg) // a plain error reaches the caller as Unknown
	}
	return runtime.NewError(runtime.Code(code), msg)
}

func (e Echo) Notify(_ context.Context, ev Event) error {
	if e.Events != nil {
		e.Events <- ev
	}
	return nil
}
