package codec

import (
	"fmt"
	"strings"

	"google.golang.org/protobuf/proto"
)

// Proto is the protocol buffers binary codec, named "proto" on the wire.
// It encodes only protocol buffer messages, so it suits services generated
// from .proto files; a client picks it with runtime.WithCodec(codec.Proto).
// NewRegistry includes it, so every server answers it.
var Proto Codec = protoCodec{}

type protoCodec struct{}

func (protoCodec) Name() string { return "proto" }

func (protoCodec) Marshal(v any) ([]byte, error) {
	m, ok := isProtoMessage(v)
	if !ok {
		return nil, fmt.Errorf("proto: cannot encode %T: not a protocol buffer message", v)
	}
	return proto.Marshal(m)
}

// Unmarshal decodes data into v within the default Limits.
func (c protoCodec) Unmarshal(data []byte, v any) error { return c.UnmarshalLimited(data, v, Limits{}) }

// UnmarshalLimited is Unmarshal within l: messages nest at most
// l.MaxDepth levels (protobuf's RecursionLimit), and a body whose messages,
// lists and strings would allocate more than l allows is refused before
// it is decoded.
func (protoCodec) UnmarshalLimited(data []byte, v any, l Limits) error {
	m, ok := isProtoMessage(v)
	if !ok {
		return fmt.Errorf("proto: cannot decode into %T: not a protocol buffer message", v)
	}
	if rm := m.ProtoReflect(); rm.IsValid() {
		if err := checkProtoWire(data, rm.Descriptor(), l); err != nil {
			return err
		}
	}
	if err := (proto.UnmarshalOptions{RecursionLimit: l.maxDepth()}).Unmarshal(data, m); err != nil {
		if strings.Contains(err.Error(), "exceeded maximum recursion depth") { // protobuf does not export it
			return depthError("proto", l.maxDepth())
		}
		return fmt.Errorf("proto: %w", err)
	}
	return nil
}
