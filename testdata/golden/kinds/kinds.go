// Package kinds covers every kind of parameter and result mqrpcgen accepts.
package kinds

import (
	"context"
	"time"

	"github.com/mqrpc/mqrpc/testdata/golden/shared"
)

//go:generate go run github.com/mqrpc/mqrpc/cmd/mqrpcgen -type Kinds

// Kinds echoes values of every kind that mqrpc carries.
type Kinds interface {
	// Basics returns its arguments.
	Basics(ctx context.Context, b bool, i int, i8 int8, i16 int16, i32 int32, i64 int64, u uint, u8 uint8, u16 uint16, u32 uint32, u64 uint64, f32 float32, f64 float64, s string, by byte, r rune) (bool, int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, float32, float64, string, byte, rune, error)
	// Struct returns its argument.
	//
	//mqrpc:idempotent
	Struct(ctx context.Context, r Record) (Record, error)
	// Anonymous returns its argument.
	Anonymous(ctx context.Context, v struct {
		Name  string `msgpack:"name"`
		Count int
	}) (struct {
		Name  string `msgpack:"name"`
		Count int
	}, error)
	// Pointers returns its arguments.
	Pointers(ctx context.Context, r *Record, n *int) (*Record, *int, error)
	// Slices returns its arguments.
	Slices(ctx context.Context, s []string, rs []Record, nested [][]int) ([]string, []Record, [][]int, error)
	// Array returns its argument.
	Array(ctx context.Context, a [3]int) ([3]int, error)
	// Maps returns its arguments.
	//
	//mqrpc:idempotent
	Maps(ctx context.Context, m map[string]int, nested map[int][]string, byPoint map[shared.Point]bool) (map[string]int, map[int][]string, map[shared.Point]bool, error)
	// Time returns its arguments.
	Time(ctx context.Context, t time.Time, d time.Duration) (time.Time, time.Duration, error)
	// Bytes returns its argument.
	Bytes(ctx context.Context, b []byte) ([]byte, error)
	// Named returns its arguments, of named types from this package and
	// another one.
	Named(ctx context.Context, p shared.Point, t shared.Tag, pair shared.Pair[string, int], c Celsius) (shared.Point, shared.Tag, shared.Pair[string, int], Celsius, error)
	// Nothing takes and returns nothing but the context and the error.
	Nothing(ctx context.Context) error
	// Split returns several results.
	Split(ctx context.Context, s string) (first string, rest []string, n int, err error)
	// Fail returns an error with the given code.
	Fail(ctx context.Context, code int, msg string) error
	// Notify delivers event and returns without a reply.
	//
	//mqrpc:oneway
	Notify(ctx context.Context, event Event) error
}

// Record is a struct with fields of several kinds.
type Record struct {
	Name   string
	Tags   []string
	Attrs  map[string]string
	Origin shared.Point
	Next   *Record
	hidden int // unexported: not sent
}

// Celsius is a named float from this package.
type Celsius float64

// Event is what Notify carries.
type Event struct {
	ID   int
	Kind string
}
