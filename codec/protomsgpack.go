package codec

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
	"unicode/utf8"

	"github.com/vmihailenco/msgpack/v5"
	"github.com/vmihailenco/msgpack/v5/msgpcode"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
)

// Protocol buffer messages in msgpack.
//
// Msgpack encodes a value that is a protocol buffer message (it implements
// protoreflect.ProtoMessage, as every generated message does) through
// protoreflect rather than by reflecting over the generated struct, whose
// internal fields are not the message. A message is a msgpack map from
// field number to value, holding the fields that are present, in field
// number order:
//
//	bool, string, bytes      msgpack bool, str, bin
//	int32, int64, sint*, sfixed*   msgpack int (its smallest form)
//	uint32, uint64, fixed*   msgpack uint
//	float, double            msgpack float32, float64
//	enum                     its number as an int, so values unknown to the
//	                         receiver's schema survive
//	message, group           a nested map
//	repeated                 an array of those
//	map<K, V>                a msgpack map from K to V, keys in order
//
// Presence is the key being there: a proto3 optional or oneof field set to
// its zero value is written, an implicit-presence field at its zero value
// is not. Extensions are keyed by their number like fields.
//
// Unknown fields (ones the sender's schema did not know, kept by protobuf
// from binary input) travel as raw protobuf wire bytes, a bin under key 0:
// 0 is never a valid field number, so it cannot collide with a field. A
// key the receiver's schema does not know is skipped, as protojson's
// DiscardUnknown does: msgpack carries no wire type, so the value cannot
// be turned back into protobuf bytes, and skipping it lets a newer sender
// talk to an older receiver.
const unknownFieldsKey = 0

func isProtoMessage(v any) (protoreflect.ProtoMessage, bool) {
	m, ok := v.(protoreflect.ProtoMessage)
	return m, ok
}

// encodeProto writes m as a msgpack map. Like proto.Marshal it refuses a
// message that lacks proto2 required fields.
func encodeProto(enc *msgpack.Encoder, m protoreflect.ProtoMessage) error {
	if err := proto.CheckInitialized(m); err != nil {
		return fmt.Errorf("msgpack: encode %T: %w", m, err)
	}
	return encodeMessage(enc, m.ProtoReflect())
}

func encodeMessage(enc *msgpack.Encoder, m protoreflect.Message) error {
	var fields []protoreflect.FieldDescriptor
	m.Range(func(fd protoreflect.FieldDescriptor, _ protoreflect.Value) bool {
		fields = append(fields, fd)
		return true
	})
	slices.SortFunc(fields, func(a, b protoreflect.FieldDescriptor) int { return cmp.Compare(a.Number(), b.Number()) })
	unknown := m.GetUnknown()
	n := len(fields)
	if len(unknown) > 0 {
		n++
	}
	if err := enc.EncodeMapLen(n); err != nil {
		return err
	}
	if len(unknown) > 0 {
		if err := enc.EncodeInt(unknownFieldsKey); err != nil {
			return err
		}
		if err := enc.EncodeBytes(unknown); err != nil {
			return err
		}
	}
	for _, fd := range fields {
		if err := enc.EncodeInt(int64(fd.Number())); err != nil {
			return err
		}
		if err := encodeField(enc, fd, m.Get(fd)); err != nil {
			return err
		}
	}
	return nil
}

func encodeField(enc *msgpack.Encoder, fd protoreflect.FieldDescriptor, v protoreflect.Value) error {
	switch {
	case fd.IsList():
		l := v.List()
		if err := enc.EncodeArrayLen(l.Len()); err != nil {
			return err
		}
		for i := range l.Len() {
			if err := encodeScalar(enc, fd, l.Get(i)); err != nil {
				return err
			}
		}
		return nil
	case fd.IsMap():
		mp := v.Map()
		keys := make([]protoreflect.MapKey, 0, mp.Len())
		mp.Range(func(k protoreflect.MapKey, _ protoreflect.Value) bool {
			keys = append(keys, k)
			return true
		})
		slices.SortFunc(keys, compareMapKeys)
		if err := enc.EncodeMapLen(len(keys)); err != nil {
			return err
		}
		for _, k := range keys {
			if err := encodeScalar(enc, fd.MapKey(), k.Value()); err != nil {
				return err
			}
			if err := encodeScalar(enc, fd.MapValue(), mp.Get(k)); err != nil {
				return err
			}
		}
		return nil
	}
	return encodeScalar(enc, fd, v)
}

// compareMapKeys orders map keys so that the encoding is deterministic.
func compareMapKeys(a, b protoreflect.MapKey) int {
	switch x := a.Interface().(type) {
	case bool:
		y := b.Bool()
		switch {
		case x == y:
			return 0
		case !x:
			return -1
		}
		return 1
	case string:
		return cmp.Compare(x, b.String())
	case int32, int64:
		return cmp.Compare(a.Int(), b.Int())
	case uint32, uint64:
		return cmp.Compare(a.Uint(), b.Uint())
	}
	return 0
}

// encodeScalar writes one value of fd's kind: a singular field, a list
// element, a map key or a map value.
func encodeScalar(enc *msgpack.Encoder, fd protoreflect.FieldDescriptor, v protoreflect.Value) error {
	switch fd.Kind() {
	case protoreflect.BoolKind:
		return enc.EncodeBool(v.Bool())
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind,
		protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return enc.EncodeInt(v.Int())
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind, protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return enc.EncodeUint(v.Uint())
	case protoreflect.FloatKind:
		return enc.EncodeFloat32(float32(v.Float()))
	case protoreflect.DoubleKind:
		return enc.EncodeFloat64(v.Float())
	case protoreflect.StringKind:
		return enc.EncodeString(v.String())
	case protoreflect.BytesKind:
		return enc.EncodeBytes(v.Bytes())
	case protoreflect.EnumKind:
		return enc.EncodeInt(int64(v.Enum()))
	case protoreflect.MessageKind, protoreflect.GroupKind:
		return encodeMessage(enc, v.Message())
	}
	return fmt.Errorf("msgpack: field %s has unsupported kind %v", fd.FullName(), fd.Kind())
}

// decodeProto reads a msgpack map written by encodeProto into m, which it
// resets first, as proto.Unmarshal does.
func decodeProto(dec *msgpack.Decoder, m protoreflect.ProtoMessage, maxDepth int) error {
	rm := m.ProtoReflect()
	if !rm.IsValid() {
		return fmt.Errorf("msgpack: decode into a nil %T", m)
	}
	proto.Reset(m)
	if err := decodeMessage(dec, rm, 0, maxDepth); err != nil {
		return fmt.Errorf("msgpack: decode %s: %w", rm.Descriptor().FullName(), err)
	}
	if err := proto.CheckInitialized(m); err != nil {
		return fmt.Errorf("msgpack: decode %s: %w", rm.Descriptor().FullName(), err)
	}
	return nil
}

// decodeMessage decodes a message at depth (the top one is 0); checkValue
// has already bounded the nesting of the body, which bounds this too.
func decodeMessage(dec *msgpack.Decoder, m protoreflect.Message, depth, maxDepth int) error {
	if depth >= maxDepth {
		return fmt.Errorf("messages %w", ErrTooDeep)
	}
	n, err := dec.DecodeMapLen()
	if err != nil {
		return err
	}
	md := m.Descriptor()
	for range max(n, 0) {
		num, err := readInt(dec, math.MinInt32, math.MaxInt32)
		if err != nil {
			return fmt.Errorf("field key: %w", err)
		}
		if num == unknownFieldsKey {
			b, err := dec.DecodeBytes()
			if err != nil {
				return fmt.Errorf("unknown fields: %w", err)
			}
			if err := checkWire(b); err != nil {
				return fmt.Errorf("unknown fields: %w", err)
			}
			m.SetUnknown(append(m.GetUnknown(), b...))
			continue
		}
		fd := fieldByNumber(md, protoreflect.FieldNumber(num))
		if fd == nil {
			if err := dec.Skip(); err != nil {
				return err
			}
			continue
		}
		if c, err := dec.PeekCode(); err != nil {
			return err
		} else if c == msgpcode.Nil {
			_ = dec.DecodeNil() // nil is an absent field
			continue
		}
		if err := decodeField(dec, m, fd, depth, maxDepth); err != nil {
			return fmt.Errorf("field %s: %w", fd.Name(), err)
		}
	}
	return nil
}

// fieldByNumber finds a field of md, or an extension of it in the global
// registry (where generated extensions register themselves).
func fieldByNumber(md protoreflect.MessageDescriptor, num protoreflect.FieldNumber) protoreflect.FieldDescriptor {
	if fd := md.Fields().ByNumber(num); fd != nil {
		return fd
	}
	if !md.ExtensionRanges().Has(num) {
		return nil
	}
	xt, err := protoregistry.GlobalTypes.FindExtensionByNumber(md.FullName(), num)
	if err != nil {
		return nil
	}
	return xt.TypeDescriptor()
}

func decodeField(dec *msgpack.Decoder, m protoreflect.Message, fd protoreflect.FieldDescriptor, depth, maxDepth int) error {
	switch {
	case fd.IsList():
		n, err := dec.DecodeArrayLen()
		if err != nil {
			return err
		}
		l := m.Mutable(fd).List()
		for range max(n, 0) {
			var v protoreflect.Value
			if isMessage(fd) {
				v = l.NewElement()
				err = decodeMessage(dec, v.Message(), depth+1, maxDepth)
			} else {
				v, err = decodeScalar(dec, fd)
			}
			if err != nil {
				return err
			}
			l.Append(v)
		}
		return nil
	case fd.IsMap():
		n, err := dec.DecodeMapLen()
		if err != nil {
			return err
		}
		mp := m.Mutable(fd).Map()
		for range max(n, 0) {
			k, err := decodeScalar(dec, fd.MapKey())
			if err != nil {
				return fmt.Errorf("map key: %w", err)
			}
			var v protoreflect.Value
			if isMessage(fd.MapValue()) {
				v = mp.NewValue()
				err = decodeMessage(dec, v.Message(), depth+1, maxDepth)
			} else {
				v, err = decodeScalar(dec, fd.MapValue())
			}
			if err != nil {
				return fmt.Errorf("map value: %w", err)
			}
			mp.Set(k.MapKey(), v)
		}
		return nil
	case isMessage(fd):
		return decodeMessage(dec, m.Mutable(fd).Message(), depth+1, maxDepth)
	}
	v, err := decodeScalar(dec, fd)
	if err != nil {
		return err
	}
	m.Set(fd, v)
	return nil
}

func isMessage(fd protoreflect.FieldDescriptor) bool {
	return fd.Kind() == protoreflect.MessageKind || fd.Kind() == protoreflect.GroupKind
}

// decodeScalar reads one value of fd's kind other than a message,
// refusing values out of the kind's range.
func decodeScalar(dec *msgpack.Decoder, fd protoreflect.FieldDescriptor) (protoreflect.Value, error) {
	switch fd.Kind() {
	case protoreflect.BoolKind:
		b, err := dec.DecodeBool()
		return protoreflect.ValueOfBool(b), err
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		n, err := readInt(dec, math.MinInt32, math.MaxInt32)
		return protoreflect.ValueOfInt32(int32(n)), err
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		n, err := readInt(dec, math.MinInt64, math.MaxInt64)
		return protoreflect.ValueOfInt64(n), err
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		n, err := readUint(dec, math.MaxUint32)
		return protoreflect.ValueOfUint32(uint32(n)), err
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		n, err := readUint(dec, math.MaxUint64)
		return protoreflect.ValueOfUint64(n), err
	case protoreflect.FloatKind:
		f, err := readFloat(dec)
		return protoreflect.ValueOfFloat32(float32(f)), err
	case protoreflect.DoubleKind:
		f, err := readFloat(dec)
		return protoreflect.ValueOfFloat64(f), err
	case protoreflect.StringKind:
		c, err := dec.PeekCode()
		if err != nil {
			return protoreflect.Value{}, err
		}
		if !msgpcode.IsString(c) {
			return protoreflect.Value{}, fmt.Errorf("want a string, got code %#x", c)
		}
		s, err := dec.DecodeString()
		if err == nil && fd.ParentFile().Syntax() != protoreflect.Proto2 && !utf8.ValidString(s) {
			// protobuf refuses such a string in binary form too.
			err = errors.New("string is not valid UTF-8")
		}
		return protoreflect.ValueOfString(s), err
	case protoreflect.BytesKind:
		b, err := dec.DecodeBytes()
		if b == nil {
			b = []byte{}
		}
		return protoreflect.ValueOfBytes(b), err
	case protoreflect.EnumKind:
		n, err := readInt(dec, math.MinInt32, math.MaxInt32)
		return protoreflect.ValueOfEnum(protoreflect.EnumNumber(n)), err
	}
	return protoreflect.Value{}, fmt.Errorf("unsupported kind %v", fd.Kind())
}

// readInt reads a msgpack integer, of any width or signedness, that lies
// in [lo, hi].
func readInt(dec *msgpack.Decoder, lo, hi int64) (int64, error) {
	c, err := dec.PeekCode()
	if err != nil {
		return 0, err
	}
	var n int64
	switch {
	case c == msgpcode.Uint64:
		u, err := dec.DecodeUint64()
		if err != nil {
			return 0, err
		}
		if u > uint64(hi) {
			return 0, fmt.Errorf("integer %d out of range [%d, %d]", u, lo, hi)
		}
		return int64(u), nil
	case isIntCode(c):
		if n, err = dec.DecodeInt64(); err != nil {
			return 0, err
		}
	default:
		return 0, fmt.Errorf("want an integer, got code %#x", c)
	}
	if n < lo || n > hi {
		return 0, fmt.Errorf("integer %d out of range [%d, %d]", n, lo, hi)
	}
	return n, nil
}

// readUint reads a msgpack integer that lies in [0, hi].
func readUint(dec *msgpack.Decoder, hi uint64) (uint64, error) {
	c, err := dec.PeekCode()
	if err != nil {
		return 0, err
	}
	if !isIntCode(c) {
		return 0, fmt.Errorf("want an integer, got code %#x", c)
	}
	var u uint64
	if msgpcode.IsFixedNum(c) && int8(c) < 0 || c >= msgpcode.Int8 && c <= msgpcode.Int64 {
		n, err := dec.DecodeInt64()
		if err != nil {
			return 0, err
		}
		if n < 0 {
			return 0, fmt.Errorf("integer %d out of range [0, %d]", n, hi)
		}
		u = uint64(n)
	} else if u, err = dec.DecodeUint64(); err != nil {
		return 0, err
	}
	if u > hi {
		return 0, fmt.Errorf("integer %d out of range [0, %d]", u, hi)
	}
	return u, nil
}

// readFloat reads a msgpack float, or an integer, which other msgpack
// writers use for whole numbers.
func readFloat(dec *msgpack.Decoder) (float64, error) {
	c, err := dec.PeekCode()
	if err != nil {
		return 0, err
	}
	switch {
	case c == msgpcode.Float:
		f, err := dec.DecodeFloat32()
		return float64(f), err
	case c == msgpcode.Double:
		return dec.DecodeFloat64()
	case c == msgpcode.Uint64:
		u, err := dec.DecodeUint64()
		return float64(u), err
	case isIntCode(c):
		n, err := dec.DecodeInt64()
		return float64(n), err
	}
	return 0, fmt.Errorf("want a number, got code %#x", c)
}

func isIntCode(c byte) bool {
	return msgpcode.IsFixedNum(c) || c >= msgpcode.Uint8 && c <= msgpcode.Uint64 || c >= msgpcode.Int8 && c <= msgpcode.Int64
}

// checkWire fails unless b is a sequence of well-formed protobuf fields,
// so that unknown fields taken from msgpack re-encode as valid protobuf.
func checkWire(b []byte) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		if !num.IsValid() {
			return fmt.Errorf("invalid field number %d", num)
		}
		m := protowire.ConsumeFieldValue(num, typ, b[n:])
		if m < 0 {
			return protowire.ParseError(m)
		}
		b = b[n+m:]
	}
	return nil
}
