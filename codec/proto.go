package codec

import (
	"fmt"

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

func (protoCodec) Unmarshal(data []byte, v any) error {
	m, ok := isProtoMessage(v)
	if !ok {
		return fmt.Errorf("proto: cannot decode into %T: not a protocol buffer message", v)
	}
	if err := proto.Unmarshal(data, m); err != nil {
		return fmt.Errorf("proto: %w", err)
	}
	return nil
}
