package rocketmq

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/apache/rocketmq-client-go/v2/primitive"
)

// A key query's answer is decoded with the compressed flag of every
// message cleared, and nothing else changed: the library's decoder would
// inflate each body without a limit.
func TestUncompressedFlagsClearsEveryMessagesFlagOnly(t *testing.T) {
	record := func(size int, sysFlag uint32) []byte {
		b := bytes.Repeat([]byte{0xAB}, size)
		binary.BigEndian.PutUint32(b, uint32(size))
		binary.BigEndian.PutUint32(b[36:], sysFlag)
		return b
	}
	const other = 1 << 3 // a flag that stays
	in := append(record(60, primitive.FlagCompressed|other), record(80, primitive.FlagCompressed)...)
	out := uncompressedFlags(in)
	if f := binary.BigEndian.Uint32(out[36:]); f != other {
		t.Errorf("first message's sysFlag %#x, want %#x", f, other)
	}
	if f := binary.BigEndian.Uint32(out[60+36:]); f != 0 {
		t.Errorf("second message's sysFlag %#x, want 0", f)
	}
	if f := binary.BigEndian.Uint32(in[36:]); f != primitive.FlagCompressed|other {
		t.Errorf("the answer itself was changed: %#x", f)
	}
	want := append(record(60, other), record(80, 0)...)
	if !bytes.Equal(out, want) {
		t.Errorf("other bytes changed")
	}
	// A truncated answer is left as it is past its last whole header.
	if got := uncompressedFlags(in[:30]); !bytes.Equal(got, in[:30]) {
		t.Errorf("truncated answer changed")
	}
}
