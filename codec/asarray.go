package codec

import (
	"bytes"
	"encoding/binary"
	"io"
	"reflect"
	"sync"

	"github.com/vmihailenco/msgpack/v5"
)

// arrayStruct is how Unmarshal decodes a struct tagged
// `msgpack:",as_array"` whose other fields are all exported, not embedded
// and untagged: the argument and result structs that mqrpcgen and
// protoc-gen-mqrpc generate. It reads the array header itself and has
// msgpack decode each field, which is what msgpack does for such a struct,
// less the error msgpack allocates when it first tries the value as a map.
// It also lets UnmarshalShared take []byte fields as views of the data.
type arrayStruct struct {
	fields []arrayField
}

type arrayField struct {
	index int  // in the struct
	bytes bool // of type []byte
}

// arrayStructs caches arrayStructOf by struct type; a nil *arrayStruct
// marks a type that msgpack decodes on its own.
var arrayStructs sync.Map // reflect.Type -> *arrayStruct

// arrayStructOf returns the plan for decoding into a *T, where v is a *T,
// or nil when T is not of the generated shape.
func arrayStructOf(v any) *arrayStruct {
	pt := reflect.TypeOf(v)
	if pt == nil || pt.Kind() != reflect.Pointer || pt.Elem().Kind() != reflect.Struct {
		return nil
	}
	t := pt.Elem()
	if p, ok := arrayStructs.Load(t); ok {
		return p.(*arrayStruct)
	}
	p := newArrayStruct(t)
	arrayStructs.Store(t, p)
	return p
}

var bytesType = reflect.TypeFor[[]byte]()

func newArrayStruct(t reflect.Type) *arrayStruct {
	p := &arrayStruct{}
	asArray := false
	for i := range t.NumField() {
		f := t.Field(i)
		tag, tagged := f.Tag.Lookup("msgpack")
		switch {
		case f.Name == "_msgpack":
			asArray = tagged && tag == ",as_array"
		case f.Anonymous || tagged:
			return nil // inlining and tag options are msgpack's to apply
		case f.IsExported():
			p.fields = append(p.fields, arrayField{index: i, bytes: f.Type == bytesType})
		}
	}
	if !asArray || len(p.fields) > 15 {
		return nil // fixarray headers only; anything longer is msgpack's
	}
	return p
}

// decode decodes data, a fixarray of len(p.fields) values, into rv, a
// struct, with dec reading from rd, which holds data. With shared set, a
// bin value for a []byte field becomes a view of data. ok is false, with
// nothing read, when data does not start with that header: msgpack then
// decodes it, nil and maps included, and words any error as it does.
func (p *arrayStruct) decode(dec *msgpack.Decoder, rd *bytes.Reader, data []byte, rv reflect.Value, shared bool) (ok bool, err error) {
	if len(data) == 0 || data[0] != 0x90|byte(len(p.fields)) {
		return false, nil
	}
	if _, err := rd.ReadByte(); err != nil {
		return true, err
	}
	for _, f := range p.fields {
		fv := rv.Field(f.index)
		if shared && f.bytes {
			if b, ok := viewBin(rd, data); ok {
				fv.SetBytes(b)
				continue
			}
		}
		if err := dec.DecodeValue(fv); err != nil {
			return true, err
		}
	}
	return true, nil
}

// viewBin returns the bin value at rd's position as a view of data, which
// rd reads, and moves rd past it. The view's capacity ends with the value,
// so appending to it copies. ok is false, with nothing read, when the next
// value is not a whole bin.
func viewBin(rd *bytes.Reader, data []byte) (b []byte, ok bool) {
	pos := len(data) - rd.Len()
	var n, head int
	switch rest := data[pos:]; {
	case len(rest) >= 2 && rest[0] == 0xc4:
		n, head = int(rest[1]), 2
	case len(rest) >= 3 && rest[0] == 0xc5:
		n, head = int(binary.BigEndian.Uint16(rest[1:])), 3
	case len(rest) >= 5 && rest[0] == 0xc6:
		n, head = int(binary.BigEndian.Uint32(rest[1:])), 5
	default:
		return nil, false
	}
	start := pos + head
	if n > len(data)-start {
		return nil, false // msgpack reports the short read
	}
	if _, err := rd.Seek(int64(head+n), io.SeekCurrent); err != nil {
		return nil, false
	}
	return data[start : start+n : start+n], true
}
