package codec

import (
	"errors"
	"fmt"
)

// Defaults that apply where a Limits field is zero.
const (
	// DefaultMaxDepth bounds how deeply arrays, maps and messages may nest
	// in a body. Decoders recurse once per level; without a bound a 4 MB
	// body of nested one-element arrays is two million levels, enough to
	// overflow a goroutine's stack, which kills the process. At this
	// limit the deepest bodies take up to 16 MiB of stack to decode.
	DefaultMaxDepth = 10_000
	// DefaultAllocPerByte bounds what decoding a body may allocate, per
	// byte of the body. Decoding legitimately allocates more than the
	// body: a one-byte empty string becomes a 16-byte string header, a
	// one-byte nil in a []T a whole T, an entry of a map some tens of
	// bytes. 64 leaves room for those (measured: a []string of empty
	// strings takes 16 bytes per body byte, a []any of small integers 32,
	// a []T of mostly zero 344-byte structs 12, a map[int]int 5) and
	// refuses a body made to blow up, such as megabytes of nils for a
	// slice of large structs.
	DefaultAllocPerByte = 64
	// allocSlack is allowed on top of the per-byte bound, so that small
	// bodies never hit it: a tree of empty nodes 5,000 levels deep takes
	// 10 KB and decodes into 1 MB.
	allocSlack = 1 << 20
)

// Limits bound what decoding one body may cost. The zero value of a field
// means its default.
type Limits struct {
	// MaxDepth bounds the nesting of arrays, maps and messages; the top
	// level value is depth 1. Default DefaultMaxDepth.
	MaxDepth int
	// AllocPerByte bounds the bytes decoding may allocate to AllocPerByte
	// times the body's size, plus 1 MiB. Default DefaultAllocPerByte.
	AllocPerByte int
}

func (l Limits) maxDepth() int {
	if l.MaxDepth > 0 {
		return l.MaxDepth
	}
	return DefaultMaxDepth
}

// budget is the most that decoding a body of n bytes may allocate.
func (l Limits) budget(n int) int64 {
	k := int64(l.AllocPerByte)
	if k <= 0 {
		k = DefaultAllocPerByte
	}
	return k*int64(n) + allocSlack
}

// A LimitedCodec decodes with explicit limits. Msgpack and Proto are
// LimitedCodecs; their Unmarshal applies the default Limits.
type LimitedCodec interface {
	Codec
	// UnmarshalLimited is Unmarshal bounded by l.
	UnmarshalLimited(data []byte, v any, l Limits) error
}

// Errors that a decode wraps when a body breaks a limit rather than being
// malformed; test with errors.Is.
var (
	// ErrTooDeep: the body nests deeper than Limits.MaxDepth.
	ErrTooDeep = errors.New("nested too deeply")
	// ErrTooLarge: decoding the body would allocate more than Limits
	// allow for its size.
	ErrTooLarge = errors.New("decoding would allocate too much")
)

func depthError(codec string, max int) error {
	return fmt.Errorf("%s: value %w (more than %d levels)", codec, ErrTooDeep, max)
}

func allocError(codec string, need, budget int64, size int) error {
	return fmt.Errorf("%s: %w: at least %d bytes for a body of %d bytes (limit %d)", codec, ErrTooLarge, need, size, budget)
}
