package codec

import (
	"bytes"
	"fmt"
	"sync"

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
	buf bytes.Buffer
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
	s.buf.Reset()
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
	if s.buf.Cap() > maxPooledBuffer {
		// A buffer this large is not pooled, so nothing writes to it
		// again: hand it out instead of copying it (a large body is
		// otherwise allocated and copied twice).
		if err == nil {
			out = s.buf.Bytes()
		}
		return out, err
	}
	if err == nil {
		out = bytes.Clone(s.buf.Bytes())
	}
	encoders.Put(s)
	return out, err
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

func (msgpackCodec) Unmarshal(data []byte, v any) (err error) {
	if err := checkValue(data); err != nil {
		return err
	}
	s := decoders.Get().(*decoderState)
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("msgpack: decode into %T: panic: %v", v, r)
		}
	}()
	s.rd.Reset(data)
	if m, ok := isProtoMessage(v); ok {
		err = decodeProto(s.dec, m)
	} else {
		err = s.dec.Decode(v)
	}
	if err == nil && s.rd.Len() > 0 {
		err = fmt.Errorf("msgpack: %d trailing bytes after the value", s.rd.Len())
	}
	s.rd.Reset(nil)
	// A decoder that failed can keep state Reset does not clear (v5.4.1
	// goes on recording every byte it reads after a RawMessage fails to
	// decode), and one that read a large body keeps a buffer as large as
	// its longest string: pool neither.
	if err == nil && len(data) <= maxPooledBuffer {
		decoders.Put(s)
	}
	return err
}

// checkValue walks data without decoding it and fails unless data is
// exactly one well-formed msgpack value whose declared array and map
// lengths are backed by bytes: every value takes at least one byte, so the
// values still owed may never outnumber the bytes left.
//
// msgpack v5.4.0 and v5.4.1 allocate a slice of the declared length before
// reading any element (vmihailenco/msgpack#401: the 1e6-element cap is
// never applied), so a 5-byte body declaring 2^32-1 elements makes the
// process die of an out-of-memory error that no recover catches. After
// this check a decode allocates in proportion to the body, whose size the
// transport bounds, and a server cannot be killed by one request.
func checkValue(data []byte) error {
	var (
		pos     int64
		end           = int64(len(data))
		pending int64 = 1 // values still to read
	)
	for pending > 0 {
		if pos >= end {
			return fmt.Errorf("msgpack: unexpected end of data at byte %d", pos)
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
			return fmt.Errorf("msgpack: invalid code %#x at byte %d", c, pos-1)
		}
		if lenSize > 0 {
			if end-pos < lenSize {
				return fmt.Errorf("msgpack: unexpected end of data at byte %d", pos)
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
			}
		}
		if skip > end-pos {
			return fmt.Errorf("msgpack: value at byte %d needs %d bytes, %d left", pos, skip, end-pos)
		}
		pos += skip
		pending += values
		if pending > end-pos {
			return fmt.Errorf("msgpack: data declares %d more values than the %d bytes left", pending, end-pos)
		}
	}
	if pos < end {
		return fmt.Errorf("msgpack: %d trailing bytes after the value", end-pos)
	}
	return nil
}
