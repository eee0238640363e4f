package codec

import (
	"bytes"
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"

	"github.com/vmihailenco/msgpack/v5"
)

// Msgpack is the default codec. Generated argument and result structs are
// tagged `msgpack:",as_array"`, so a call's arguments travel as a msgpack
// array of the parameters after ctx, and its results as an array of the
// results before the error. Integers are written in their smallest msgpack
// form, which every msgpack implementation reads back at any width.
// Protocol buffer messages are maps keyed by field number (see
// protomsgpack.go), so one codec name serves both kinds of service.
var Msgpack Codec = msgpackCodec{}

type msgpackCodec struct{}

func (msgpackCodec) Name() string { return "msgpack" }

// encoderState pairs an encoder with the buffer it writes to so that both are
// reused across calls; only the returned slice is allocated per Marshal.
type encoderState struct {
	buf encodeBuffer
	enc *msgpack.Encoder
}

var encoders = sync.Pool{New: func() any {
	s := &encoderState{enc: msgpack.NewEncoder(nil)}
	s.enc.Reset(&s.buf)
	s.enc.UseCompactInts(true)
	return s
}}

// maxPooledBuffer keeps one large message from pinning its buffer in the pool.
const maxPooledBuffer = 64 << 10

func (msgpackCodec) Marshal(v any) (out []byte, err error) {
	s := encoders.Get().(*encoderState)
	s.buf.reset(reflect.TypeOf(v))
	// msgpack panics on some types it does not support (uintptr) and
	// passes on panics of custom encoders. A server encodes results
	// outside the handler's recover, so a panic here would take the whole
	// process down; it becomes an error, and the encoder is not pooled.
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("msgpack: encode %T: panic: %v", v, r)
		}
	}()
	if m, ok := isProtoMessage(v); ok {
		err = encodeProto(s.enc, m)
	} else {
		err = s.enc.Encode(v)
	}
	if err == nil {
		out = s.buf.result()
	}
	s.buf.release()
	encoders.Put(s)
	return out, err
}

// encodeBuffer is the writer a pooled encoder writes to. It keeps a buffer
// of at most maxPooledBuffer bytes across calls; a value that outgrows it
// is written to a buffer of its own, which Marshal hands out rather than
// copies, and the pooled buffer stays with the encoder.
type encodeBuffer struct {
	b      []byte       // what this call wrote; the pooled buffer until large
	pooled []byte       // cap ≤ maxPooledBuffer, kept across calls
	typ    reflect.Type // of the value being encoded, for sizeHints
	large  int          // buffers allocated past maxPooledBuffer this call
	hint   *atomic.Int64
}

// sizeHints remembers, per type, the size of its last encoding that was
// over maxPooledBuffer and written in many pieces (a long slice, a big
// map), so that the next one starts in a buffer of that size instead of
// doubling one up to it, which allocates about twice the final size. When
// a type's values vary in size, a buffer can be as large as the previous
// one of the type. A value written mostly at once (a large []byte or
// string) gets a buffer of its exact size without a hint, so its type gets
// none. Only types that were encoded large are kept, a bounded set.
var sizeHints sync.Map // reflect.Type -> *atomic.Int64

func (w *encodeBuffer) reset(typ reflect.Type) {
	w.b, w.typ, w.large, w.hint = w.pooled[:0], typ, 0, nil
}

func (w *encodeBuffer) Write(p []byte) (int, error) {
	if len(p) > cap(w.b)-len(w.b) {
		w.grow(len(p))
	}
	w.b = append(w.b, p...)
	return len(p), nil
}

func (w *encodeBuffer) WriteByte(c byte) error {
	if len(w.b) == cap(w.b) {
		w.grow(1)
	}
	w.b = append(w.b, c)
	return nil
}

// grow makes room for n more bytes. The pooled buffer doubles up to
// maxPooledBuffer. A value that needs more gets a new buffer of its own,
// at least the size of its type's hint, and the pooled buffer is kept.
func (w *encodeBuffer) grow(n int) {
	need := len(w.b) + n
	var size int
	switch {
	case need <= maxPooledBuffer:
		size = min(max(2*cap(w.b), need, 64), maxPooledBuffer)
	case w.large == 0:
		w.pooled = w.b[:0]
		// Doubling what was written, not the pooled buffer's capacity,
		// sizes a value written at once exactly.
		size = max(need, 2*len(w.b))
		if w.typ != nil {
			if h, ok := sizeHints.Load(w.typ); ok {
				w.hint = h.(*atomic.Int64)
				size = max(size, int(w.hint.Load()))
			}
		}
		w.large++
	default:
		size = max(need, 2*cap(w.b))
		w.large++
	}
	b := make([]byte, len(w.b), size)
	copy(b, w.b)
	w.b = b
}

// result returns the bytes written: the large buffer itself, which is
// never written again, or a copy of the pooled one.
func (w *encodeBuffer) result() []byte {
	if w.large == 0 {
		return bytes.Clone(w.b)
	}
	n := int64(len(w.b))
	switch {
	case w.hint != nil:
		if w.hint.Load() != n {
			w.hint.Store(n)
		}
	case w.large > 1 && w.typ != nil:
		// Grown more than once past the pool's size: written in pieces.
		h := new(atomic.Int64)
		h.Store(n)
		sizeHints.Store(w.typ, h)
	}
	return w.b
}

// release readies the buffer for the pool, keeping it only if it is small.
func (w *encodeBuffer) release() {
	if w.large == 0 {
		w.pooled = w.b[:0]
	}
	w.b, w.typ, w.hint = nil, nil, nil
}

// decoderState pairs a decoder with the reader it reads from so that neither
// is allocated per Unmarshal.
type decoderState struct {
	rd  bytes.Reader
	dec *msgpack.Decoder
}

var decoders = sync.Pool{New: func() any {
	s := &decoderState{dec: msgpack.NewDecoder(nil)}
	s.dec.Reset(&s.rd)
	return s
}}

// Unmarshal decodes data into v within the default Limits. See walk.go
// for what it refuses that msgpack alone would accept.
func (msgpackCodec) Unmarshal(data []byte, v any) error { return unmarshal(data, v, false, Limits{}) }

// UnmarshalLimited is Unmarshal within l.
func (msgpackCodec) UnmarshalLimited(data []byte, v any, l Limits) error {
	return unmarshal(data, v, false, l)
}

// UnmarshalShared is Unmarshal, except that a []byte field of a generated
// argument or result struct is a view of data rather than a copy: the
// caller must change and reuse data no more.
func (msgpackCodec) UnmarshalShared(data []byte, v any) error {
	return unmarshal(data, v, true, Limits{})
}

func unmarshal(data []byte, v any, shared bool, l Limits) (err error) {
	longest, err := checkValue(data, l.maxDepth())
	if err != nil {
		return err
	}
	var as *arrayStruct
	if m, ok := isProtoMessage(v); ok {
		err = checkProtoMsgpack(data, m, l)
	} else {
		as, err = checkTyped(data, v, l)
	}
	if err != nil {
		return err
	}
	s := decoders.Get().(*decoderState)
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("msgpack: decode into %T: panic: %v", v, r)
		}
	}()
	s.rd.Reset(data)
	decoded := false
	if m, ok := isProtoMessage(v); ok {
		err, decoded = decodeProto(s.dec, m, l.maxDepth()), true
	} else if as != nil {
		decoded, err = as.decode(s.dec, &s.rd, data, reflect.ValueOf(v).Elem(), shared)
	}
	if !decoded {
		err = s.dec.Decode(v)
	}
	if err == nil && s.rd.Len() > 0 {
		err = fmt.Errorf("msgpack: %d trailing bytes after the value", s.rd.Len())
	}
	s.rd.Reset(nil)
	// A decoder that failed can keep state Reset does not clear (v5.4.1
	// goes on recording every byte it reads after a RawMessage fails to
	// decode): it is not pooled. Nor is one that may have read a long
	// payload: msgpack reads strings, ext data and skipped values through
	// a scratch buffer it keeps, as large as the longest of them. A bin
	// decoded into a []byte goes straight to the destination, so a large
	// body made of one []byte leaves the decoder small.
	if err == nil && longest <= maxPooledBuffer {
		decoders.Put(s)
	}
	return err
}

// checkValue walks data without decoding it and fails unless data is
// exactly one well-formed msgpack value whose declared array and map
// lengths are backed by bytes: every value takes at least one byte, so the
// values still owed may never outnumber the bytes left. It also returns
// the longest payload length a str, bin or ext header in data declares
// (the fixed forms, at most 31 bytes, are left out).
//
// msgpack v5.4.0 and v5.4.1 allocate a slice of the declared length before
// reading any element (vmihailenco/msgpack#401: the 1e6-element cap is
// never applied), so a 5-byte body declaring 2^32-1 elements makes the
// process die of an out-of-memory error that no recover catches. After
// this check a decode allocates in proportion to the body, whose size the
// transport bounds, and a server cannot be killed by one request.
//
// It also fails when values nest more than maxDepth levels deep (the top
// value is level 1), wrapping ErrTooDeep. The walk is iterative, so it runs
// safely before msgpack's recursive decoder, whose stack a deep enough body
// would otherwise overflow, a fatal error that no recover catches.
func checkValue(data []byte, maxDepth int) (longest int64, err error) {
	var (
		pos     int64
		end           = int64(len(data))
		pending int64 = 1 // values still to read
		// open holds, per enclosing array or map, the values it still
		// owes; its length is the depth of the next value less one.
		open = make([]int64, 0, 32)
	)
	for pending > 0 {
		if pos >= end {
			return 0, fmt.Errorf("msgpack: unexpected end of data at byte %d", pos)
		}
		for len(open) > 0 && open[len(open)-1] == 0 {
			open = open[:len(open)-1]
		}
		if len(open) > 0 {
			open[len(open)-1]--
		}
		c := data[pos]
		pos++
		pending--
		var values, skip int64 // values the header opens; payload bytes to skip
		var lenSize int64      // size of a big-endian length that follows c
		switch {
		case c <= 0x7f || c >= 0xe0: // positive and negative fixint
		case c <= 0x8f: // fixmap
			values = 2 * int64(c&0x0f)
		case c <= 0x9f: // fixarray
			values = int64(c & 0x0f)
		case c <= 0xbf: // fixstr
			skip = int64(c & 0x1f)
		case c == 0xc0 || c == 0xc2 || c == 0xc3: // nil, false, true
		case c == 0xc4 || c == 0xd9: // bin8, str8
			lenSize = 1
		case c == 0xc5 || c == 0xda: // bin16, str16
			lenSize = 2
		case c == 0xc6 || c == 0xdb: // bin32, str32
			lenSize = 4
		case c == 0xc7: // ext8: length, then a type byte
			lenSize, skip = 1, 1
		case c == 0xc8: // ext16
			lenSize, skip = 2, 1
		case c == 0xc9: // ext32
			lenSize, skip = 4, 1
		case c == 0xca: // float32
			skip = 4
		case c == 0xcb: // float64
			skip = 8
		case c >= 0xcc && c <= 0xcf: // uint8..uint64
			skip = 1 << (c - 0xcc)
		case c >= 0xd0 && c <= 0xd3: // int8..int64
			skip = 1 << (c - 0xd0)
		case c >= 0xd4 && c <= 0xd8: // fixext1..fixext16: type byte and data
			skip = 1 + 1<<(c-0xd4)
		case c == 0xdc || c == 0xde: // array16, map16
			lenSize = 2
		case c == 0xdd || c == 0xdf: // array32, map32
			lenSize = 4
		default: // 0xc1 is never used
			return 0, fmt.Errorf("msgpack: invalid code %#x at byte %d", c, pos-1)
		}
		if lenSize > 0 {
			if end-pos < lenSize {
				return 0, fmt.Errorf("msgpack: unexpected end of data at byte %d", pos)
			}
			var n int64
			for _, b := range data[pos : pos+lenSize] {
				n = n<<8 | int64(b)
			}
			pos += lenSize
			switch c {
			case 0xdc, 0xdd:
				values = n
			case 0xde, 0xdf:
				values = 2 * n
			default:
				skip += n
				longest = max(longest, n)
			}
		}
		if skip > end-pos {
			return 0, fmt.Errorf("msgpack: value at byte %d needs %d bytes, %d left", pos, skip, end-pos)
		}
		pos += skip
		if values > 0 {
			if len(open)+1 >= maxDepth {
				return 0, depthError("msgpack", maxDepth)
			}
			open = append(open, values)
		}
		pending += values
		if pending > end-pos {
			return 0, fmt.Errorf("msgpack: data declares %d more values than the %d bytes left", pending, end-pos)
		}
	}
	if pos < end {
		return 0, fmt.Errorf("msgpack: %d trailing bytes after the value", end-pos)
	}
	return longest, nil
}
