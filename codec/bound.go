package codec

import (
	"errors"
	"fmt"
	"reflect"
	"sync"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
)

// typedInfo is what unmarshal needs about the type of a *T it decodes
// into, looked up once per call.
type typedInfo struct {
	plan  *plan        // of T
	as    *arrayStruct // arrayStructOf, nil unless T is of the generated shape
	iface bool         // T is an interface type
}

var typedInfos sync.Map // reflect.Type of a *T -> *typedInfo

// checkTyped walks data, which has passed checkValue, against the type v
// points to (see walk.go). It returns v's arrayStruct, to save unmarshal
// a second lookup.
func checkTyped(data []byte, v any, l Limits) (*arrayStruct, error) {
	pt := reflect.TypeOf(v)
	if pt == nil || pt.Kind() != reflect.Pointer {
		return nil, nil // msgpack refuses it
	}
	var info *typedInfo
	if i, ok := typedInfos.Load(pt); ok {
		info = i.(*typedInfo)
	} else {
		info = &typedInfo{plan: planFor(pt.Elem()), as: arrayStructOf(v), iface: pt.Elem().Kind() == reflect.Interface}
		typedInfos.Store(pt, info)
	}
	rv := reflect.ValueOf(v)
	if rv.IsNil() {
		return nil, nil // msgpack refuses it
	}
	p := info.plan
	if info.iface && !rv.Elem().IsNil() {
		// msgpack decodes into the pointer the interface holds.
		p = planFor(rv.Elem().Elem().Type())
	}
	w := walker{data: data, budget: l.budget(len(data))}
	if _, err := w.value(p, 0); err != nil {
		if err == errBudget {
			return nil, allocError("msgpack", w.cost, w.budget, len(data))
		}
		return nil, fmt.Errorf("msgpack: %w", err)
	}
	return info.as, nil
}

// Protocol buffer messages are not decoded by msgpack's reflection, so
// they get walks of their own, in the msgpack form (protomsgpack.go) and
// in binary, that add up what protobuf allocates: a message's Go struct
// for each message value, list and map storage, the bytes of strings.

// messageSizes caches messageSize by message name.
var messageSizes sync.Map // protoreflect.FullName -> int64

// messageSize is what protobuf allocates for one value of the message md:
// its generated Go struct, or an estimate for a dynamic message.
func messageSize(md protoreflect.MessageDescriptor) int64 {
	if n, ok := messageSizes.Load(md.FullName()); ok {
		return n.(int64)
	}
	n := int64(64 + 24*md.Fields().Len()) // dynamicpb: a map entry per field set
	if mt, err := protoregistry.GlobalTypes.FindMessageByName(md.FullName()); err == nil {
		if t := reflect.TypeOf(mt.Zero().Interface()); t.Kind() == reflect.Pointer {
			n = int64(t.Elem().Size())
		}
	}
	messageSizes.Store(md.FullName(), n)
	return n
}

// scalarSize is the room a list or map gives one value of fd's kind.
func scalarSize(fd protoreflect.FieldDescriptor) int64 {
	switch fd.Kind() {
	case protoreflect.BoolKind:
		return 1
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind,
		protoreflect.Uint32Kind, protoreflect.Fixed32Kind, protoreflect.FloatKind, protoreflect.EnumKind:
		return 4
	case protoreflect.StringKind:
		return 16
	case protoreflect.BytesKind:
		return 24
	}
	return 8
}

// checkProtoMsgpack walks data, the msgpack form of a message md, adding
// up what decodeMessage allocates.
func checkProtoMsgpack(data []byte, m protoreflect.ProtoMessage, l Limits) error {
	rm := m.ProtoReflect()
	if !rm.IsValid() {
		return nil // decodeProto refuses it
	}
	w := walker{data: data, budget: l.budget(len(data))}
	if _, err := w.protoMessage(rm.Descriptor(), 0); err != nil {
		if err == errBudget {
			return allocError("msgpack", w.cost, w.budget, len(data))
		}
		return nil // decodeProto words the error
	}
	return nil
}

var errProtoShape = errors.New("not the shape decodeProto reads")

func (w *walker) protoMessage(md protoreflect.MessageDescriptor, pos int) (int, error) {
	h := readHead(w.data, pos)
	if h.class == cNil {
		return h.body, nil
	}
	if h.class != cMap {
		return 0, errProtoShape
	}
	pos = h.body
	for range h.n {
		kh := readHead(w.data, pos)
		pos = kh.end()
		var fd protoreflect.FieldDescriptor
		if kh.class == cInt && !kh.neg && kh.u <= 1<<29 {
			fd = fieldByNumber(md, protoreflect.FieldNumber(kh.u))
		}
		vh := readHead(w.data, pos)
		if fd == nil || vh.class == cNil {
			if err := w.spend(vh.n); err != nil { // unknown fields are kept as bytes
				return 0, err
			}
			pos = skipValue(w.data, pos)
			continue
		}
		var err error
		if pos, err = w.protoField(fd, pos); err != nil {
			return 0, err
		}
	}
	return pos, nil
}

func (w *walker) protoField(fd protoreflect.FieldDescriptor, pos int) (int, error) {
	h := readHead(w.data, pos)
	switch {
	case fd.IsList():
		if h.class != cArray {
			return 0, errProtoShape
		}
		// A list grows by appending: up to twice its length.
		if err := w.spend(2 * h.n * scalarSize(fd)); err != nil {
			return 0, err
		}
		pos = h.body
		for range h.n {
			var err error
			if pos, err = w.protoValue(fd, pos); err != nil {
				return 0, err
			}
		}
		return pos, nil
	case fd.IsMap():
		if h.class != cMap {
			return 0, errProtoShape
		}
		if err := w.spend(mapTable(h.n, scalarSize(fd.MapKey())+scalarSize(fd.MapValue()))); err != nil {
			return 0, err
		}
		pos = h.body
		for range h.n {
			var err error
			if pos, err = w.protoValue(fd.MapKey(), pos); err != nil {
				return 0, err
			}
			if pos, err = w.protoValue(fd.MapValue(), pos); err != nil {
				return 0, err
			}
		}
		return pos, nil
	}
	return w.protoValue(fd, pos)
}

// protoValue walks one value of fd's kind: a singular field, a list
// element, a map key or value.
func (w *walker) protoValue(fd protoreflect.FieldDescriptor, pos int) (int, error) {
	if isMessage(fd) {
		if err := w.spend(messageSize(fd.Message())); err != nil {
			return 0, err
		}
		return w.protoMessage(fd.Message(), pos)
	}
	h := readHead(w.data, pos)
	switch h.class {
	case cArray, cMap:
		return 0, errProtoShape
	case cStr, cBin:
		return h.end(), w.spend(h.n)
	}
	return h.end(), nil
}

// checkProtoWire walks data, a message md in protobuf's binary form,
// adding up what proto.Unmarshal allocates for it. It fails on nothing
// but the budget and depth: proto.Unmarshal reports malformed data.
func checkProtoWire(data []byte, md protoreflect.MessageDescriptor, l Limits) error {
	w := walker{data: data, budget: l.budget(len(data))}
	if err := w.wireMessage(data, md, l.maxDepth()-1); err != nil {
		if err == errBudget {
			return allocError("proto", w.cost, w.budget, len(data))
		}
		if errors.Is(err, ErrTooDeep) {
			return depthError("proto", l.maxDepth())
		}
	}
	return nil
}

func (w *walker) wireMessage(b []byte, md protoreflect.MessageDescriptor, depthLeft int) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return nil
		}
		b = b[n:]
		m := protowire.ConsumeFieldValue(num, typ, b)
		if m < 0 {
			return nil
		}
		val := b[:m]
		b = b[m:]
		fd := md.Fields().ByNumber(num)
		if fd == nil {
			if err := w.spend(int64(n + m)); err != nil { // kept as unknown bytes
				return err
			}
			continue
		}
		if err := w.wireField(fd, typ, val, depthLeft); err != nil {
			return err
		}
	}
	return nil
}

func (w *walker) wireField(fd protoreflect.FieldDescriptor, typ protowire.Type, val []byte, depthLeft int) error {
	if fd.IsList() {
		if err := w.spend(2 * scalarSize(fd)); err != nil { // one element, with append's slack
			return err
		}
		if typ == protowire.BytesType && !isMessage(fd) && fd.Kind() != protoreflect.StringKind && fd.Kind() != protoreflect.BytesKind {
			// Packed: count the elements, one per varint or fixed size.
			payload, _ := protowire.ConsumeBytes(val)
			return w.spend(2 * scalarSize(fd) * int64(len(payload)))
		}
	}
	if fd.IsMap() {
		if err := w.spend(3 * (scalarSize(fd.MapKey()) + scalarSize(fd.MapValue()))); err != nil {
			return err
		}
		payload, _ := protowire.ConsumeBytes(val)
		entry := fd.Message()
		return w.wireMessage(payload, entry, depthLeft)
	}
	switch {
	case isMessage(fd):
		if depthLeft <= 0 {
			return ErrTooDeep
		}
		if err := w.spend(messageSize(fd.Message())); err != nil {
			return err
		}
		payload := val
		if typ == protowire.BytesType {
			payload, _ = protowire.ConsumeBytes(val)
		} else if typ == protowire.StartGroupType {
			payload = val[:max(0, len(val)-protowire.SizeTag(fd.Number()))]
		}
		return w.wireMessage(payload, fd.Message(), depthLeft-1)
	case typ == protowire.BytesType:
		payload, _ := protowire.ConsumeBytes(val)
		return w.spend(int64(len(payload)))
	}
	return nil
}
