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
	err = s.enc.Encode(v)
	if err == nil {
		out = bytes.Clone(s.buf.Bytes())
	}
	if s.buf.Cap() <= maxPooledBuffer {
		encoders.Put(s)
	}
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
	s := decoders.Get().(*decoderState)
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("msgpack: decode into %T: panic: %v", v, r)
		}
	}()
	s.rd.Reset(data)
	err = s.dec.Decode(v)
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
