package codec_test

import (
	"bytes"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/mqrpc/mqrpc/codec"
	kitchenpb "github.com/mqrpc/mqrpc/testdata/proto/kitchen"
)

// FuzzProtoMsgpackUnmarshal decodes arbitrary bodies into a message with
// every kind of field. No input may panic or allocate out of proportion
// (the pre-decode walk bounds declared lengths); whatever decodes must
// encode again, decode to an equal message, and encode to the same bytes.
func FuzzProtoMsgpackUnmarshal(f *testing.F) {
	for _, msg := range protoCases(f) {
		if s, ok := msg.(*kitchenpb.Sink); ok {
			b, err := codec.Msgpack.Marshal(s)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
	for _, b := range hugeLengthInputs {
		f.Add(b)
	}
	f.Add([]byte{0x81, 0x2a, 0x81, 0x2a, 0x81, 0x2a, 0x80}) // nested children
	f.Fuzz(func(t *testing.T, data []byte) {
		var m kitchenpb.Sink
		if err := codec.Msgpack.Unmarshal(data, &m); err != nil {
			return
		}
		b, err := codec.Msgpack.Marshal(&m)
		if err != nil {
			t.Fatalf("decoded %v, which does not encode: %v", &m, err)
		}
		var again kitchenpb.Sink
		if err := codec.Msgpack.Unmarshal(b, &again); err != nil {
			t.Fatalf("re-encoded % x does not decode: %v", b, err)
		}
		if b2, _ := codec.Msgpack.Marshal(&again); !bytes.Equal(b, b2) {
			t.Fatalf("encodings differ:\n% x\n% x", b, b2)
		}
		// NaN floats make proto.Equal false; the bytes above already
		// agree, so compare the binary form instead.
		pb1, err1 := proto.MarshalOptions{Deterministic: true}.Marshal(&m)
		pb2, err2 := proto.MarshalOptions{Deterministic: true}.Marshal(&again)
		if err1 != nil || err2 != nil || !bytes.Equal(pb1, pb2) {
			t.Fatalf("binary forms differ (%v, %v)", err1, err2)
		}
	})
}
