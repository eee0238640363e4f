package jsonargs

import (
	"bytes"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/mqrpc/mqrpc/codec"
)

// Decode decodes a msgpack body without knowing its types, for display: a
// map of any key type becomes a map[any]any (JSON gives it string keys), as
// a Go map[Status]int or map[Point]bool arrives as a map with integer or
// struct keys, which msgpack's default map[string]any cannot hold. The body
// is first checked by the codec, so a hostile one is refused with the same
// limits a server applies.
func Decode(b []byte) (any, error) {
	var raw msgpack.RawMessage
	if err := codec.Msgpack.Unmarshal(b, &raw); err != nil {
		return nil, err
	}
	dec := msgpack.NewDecoder(bytes.NewReader(b))
	dec.SetMapDecoder(func(d *msgpack.Decoder) (any, error) { return d.DecodeUntypedMap() })
	return dec.DecodeInterface()
}
