package codec_test

import (
	"bytes"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/mqrpc/mqrpc/codec"
	kitchenpb "github.com/mqrpc/mqrpc/testdata/proto/kitchen"
	"github.com/mqrpc/mqrpc/testdata/proto/legacy"
)

// fullSink sets every field of Sink, most to values at the edges of their
// ranges.
func fullSink(t testing.TB) *kitchenpb.Sink {
	st, err := structpb.NewStruct(map[string]any{"a": 1.5, "b": []any{"x", true, nil}, "c": map[string]any{"d": "e"}})
	if err != nil {
		t.Fatal(err)
	}
	anyMsg, err := anypb.New(timestamppb.New(time.Unix(1, 2)))
	if err != nil {
		t.Fatal(err)
	}
	inner := &kitchenpb.Sink_Inner{Label: "in", Kids: []*kitchenpb.Sink_Inner{{Label: "kid"}, {}}}
	return &kitchenpb.Sink{
		B: true, I32: math.MinInt32, S32: -5, Sf32: math.MaxInt32, I64: math.MinInt64, S64: math.MaxInt64, Sf64: -1,
		U32: math.MaxUint32, F32: 7, U64: math.MaxUint64, F64: 1 << 40, Fl: 1.25, Db: math.Inf(-1),
		S: "héllo", By: []byte{0, 1, 2}, Color: kitchenpb.Color_COLOR_BLUE,
		OptI32: proto.Int32(0), OptS: proto.String(""),
		Nums: []int32{1, -1, 0}, Strs: []string{"", "a"}, Inners: []*kitchenpb.Sink_Inner{inner, {}},
		Colors:   []kitchenpb.Color{kitchenpb.Color_COLOR_RED, 99},
		Counts:   map[string]int64{"a": 1, "": -2},
		ById:     map[int32]*kitchenpb.Sink_Inner{-3: inner, 4: {}},
		Flags:    map[bool]string{true: "t", false: ""},
		Blobs:    map[uint64][]byte{math.MaxUint64: {9}, 0: {}},
		Choice:   &kitchenpb.Sink_InnerChoice{InnerChoice: &kitchenpb.Sink_Inner{}},
		Inner:    inner,
		Ts:       timestamppb.New(time.Unix(1700000000, 123456789)),
		Dur:      durationpb.New(-90 * time.Second),
		Empty:    &emptypb.Empty{},
		St:       st,
		Val:      structpb.NewListValue(&structpb.ListValue{Values: []*structpb.Value{structpb.NewNullValue(), structpb.NewNumberValue(2)}}),
		Any:      anyMsg,
		WI64:     wrapperspb.Int64(0),
		WS:       wrapperspb.String("w"),
		WB:       wrapperspb.Bool(false),
		WBy:      wrapperspb.Bytes(nil),
		WD:       wrapperspb.Double(-0.5),
		Child:    &kitchenpb.Sink{Choice: &kitchenpb.Sink_Name{Name: ""}, Color: 1234},
		Dbs:      []double{0, math.MaxFloat64, math.SmallestNonzeroFloat64},
		ColorsBy: map[int64]kitchenpb.Color{-1: 5, 1: kitchenpb.Color_COLOR_RED},
	}
}

type double = float64

func protoCases(t testing.TB) map[string]proto.Message {
	withUnknown := &kitchenpb.Sink{S: "known"}
	// Fields 1000 and 1001 are in no schema: varint and length-delimited.
	var raw []byte
	raw = protowire.AppendTag(raw, 1000, protowire.VarintType)
	raw = protowire.AppendVarint(raw, 300)
	raw = protowire.AppendTag(raw, 1001, protowire.BytesType)
	raw = protowire.AppendBytes(raw, []byte("later"))
	withUnknown.ProtoReflect().SetUnknown(raw)
	nestedUnknown := &kitchenpb.Sink{Inner: &kitchenpb.Sink_Inner{Label: "x"}}
	nestedUnknown.Inner.ProtoReflect().SetUnknown(raw)

	key := &legacy.Key{Name: proto.String("k"), Version: proto.Int32(7), Kind: legacy.Key_SPECIAL.Enum(), Extra: &legacy.Key_Extra{Note: proto.String("n")}}
	proto.SetExtension(key, legacy.E_Label, "lbl")
	proto.SetExtension(key, legacy.E_Tags, []int64{1, -2})
	return map[string]proto.Message{
		"every field":              fullSink(t),
		"empty":                    &kitchenpb.Sink{},
		"proto3 optional zero":     &kitchenpb.Sink{OptI32: proto.Int32(0)},
		"oneof zero string":        &kitchenpb.Sink{Choice: &kitchenpb.Sink_Name{}},
		"oneof int":                &kitchenpb.Sink{Choice: &kitchenpb.Sink_Id{Id: -9}},
		"unknown enum value":       &kitchenpb.Sink{Color: 42, Colors: []kitchenpb.Color{-7}},
		"unknown fields":           withUnknown,
		"nested unknown fields":    nestedUnknown,
		"NaN free floats":          &kitchenpb.Sink{Fl: float32(math.Inf(1)), Db: math.Copysign(0, -1)}, // -0.0 would be +0
		"proto2 with extensions":   &legacy.Value{Data: []byte{}, Nums: []int32{1, 2}, Key: key},
		"proto2 default explicit":  &legacy.Key{Name: proto.String(""), Version: proto.Int32(7)},
		"well-known Empty":         &emptypb.Empty{},
		"well-known Timestamp":     timestamppb.New(time.Unix(-1, 0)),
		"well-known Struct":        fullSink(t).St,
		"well-known Any":           fullSink(t).Any,
		"well-known wrapper zero":  wrapperspb.UInt32(0),
		"well-known Duration":      durationpb.New(time.Nanosecond),
		"well-known Value null":    structpb.NewNullValue(),
		"well-known BytesValue":    wrapperspb.Bytes([]byte("b")),
		"well-known FloatValue":    wrapperspb.Float(3.5),
		"well-known StringValue":   wrapperspb.String("s"),
		"well-known BoolValue":     wrapperspb.Bool(true),
		"well-known Int32Value":    wrapperspb.Int32(-1),
		"well-known UInt64Value":   wrapperspb.UInt64(math.MaxUint64),
		"well-known DoubleValue":   wrapperspb.Double(1e300),
		"well-known Int64Value":    wrapperspb.Int64(math.MinInt64),
		"well-known ListValue":     &structpb.ListValue{},
		"recursive messages":       &kitchenpb.Sink{Child: &kitchenpb.Sink{Child: &kitchenpb.Sink{S: "deep"}}},
		"repeated nested messages": &kitchenpb.Sink{Inners: []*kitchenpb.Sink_Inner{{Kids: []*kitchenpb.Sink_Inner{{Label: "a"}}}}},
	}
}

// TestProtoMessagesRoundTripExactly encodes each message with both codecs
// and decodes it into a fresh message of its type: proto.Equal must hold,
// and so must the protobuf binary form, which also covers unknown fields.
func TestProtoMessagesRoundTripExactly(t *testing.T) {
	for name, msg := range protoCases(t) {
		for _, c := range []codec.Codec{codec.Msgpack, codec.Proto} {
			t.Run(name+"/"+c.Name(), func(t *testing.T) {
				b, err := c.Marshal(msg)
				if err != nil {
					t.Fatal(err)
				}
				got := msg.ProtoReflect().New().Interface()
				if err := c.Unmarshal(b, got); err != nil {
					t.Fatalf("Unmarshal: %v", err)
				}
				if !proto.Equal(got, msg) {
					t.Fatalf("round trip changed the message:\n got %v\nwant %v", got, msg)
				}
				want, _ := proto.MarshalOptions{Deterministic: true}.Marshal(msg)
				again, _ := proto.MarshalOptions{Deterministic: true}.Marshal(got)
				if !bytes.Equal(want, again) {
					t.Fatalf("binary forms differ:\n got % x\nwant % x", again, want)
				}
				// msgpack writes map entries in key order; protobuf's
				// binary form, like gRPC's, makes no such promise.
				if b2, _ := c.Marshal(got); c == codec.Msgpack && !bytes.Equal(b, b2) {
					t.Fatal("encoding is not deterministic")
				}
			})
		}
	}
}

// TestProtoMsgpackWireForm pins the form other languages must read: a map
// keyed by field number, only present fields, enums as numbers, unknown
// fields as protobuf bytes under key 0.
func TestProtoMsgpackWireForm(t *testing.T) {
	msg := &kitchenpb.Sink{I32: -1, S: "x", Color: kitchenpb.Color_COLOR_RED, OptI32: proto.Int32(0), Nums: []int32{1, 2}, Counts: map[string]int64{"b": 2, "a": 1}}
	msg.ProtoReflect().SetUnknown(protowire.AppendVarint(protowire.AppendTag(nil, 1000, protowire.VarintType), 1))
	b, err := codec.Msgpack.Marshal(msg)
	if err != nil {
		t.Fatal(err)
	}
	var got map[int]any
	if err := msgpack.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	want := map[int]any{
		0:  []byte{0xc0, 0x3e, 0x01},
		2:  int8(-1),
		14: "x",
		16: int8(1),
		17: int8(0),
		19: []any{int8(1), int8(2)},
		23: map[string]any{"a": int8(1), "b": int8(2)},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d keys %v, want %v", len(got), got, want)
	}
	for k, w := range want {
		if gb, ok := got[k].([]byte); ok {
			if !bytes.Equal(gb, w.([]byte)) {
				t.Errorf("key %d: % x, want % x", k, gb, w)
			}
			continue
		}
		if g := got[k]; !equalLoose(g, w) {
			t.Errorf("key %d: %#v, want %#v", k, g, w)
		}
	}
	// Keys come in field number order, so the bytes are stable.
	if !bytes.HasPrefix(b, []byte{0x87, 0x00, 0xc4, 0x03}) {
		t.Errorf("encoding starts % x, want a 7-entry map whose first key is 0", b[:4])
	}
}

// equalLoose compares decoded values by their Go syntax, which prints
// maps in key order.
func equalLoose(a, b any) bool { return fmt.Sprintf("%#v", a) == fmt.Sprintf("%#v", b) }

func TestProtoMsgpackAcceptsWhatOtherWritersSend(t *testing.T) {
	// A newer schema's field 999, a nil, floats written as integers and
	// an int32 written as a uint64 all decode.
	body, _ := msgpack.Marshal(map[int]any{999: "new", 13: 3, 12: uint64(2), 2: uint64(5), 14: nil})
	var got kitchenpb.Sink
	if err := codec.Msgpack.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	if want := (&kitchenpb.Sink{Db: 3, Fl: 2, I32: 5}); !proto.Equal(&got, want) {
		t.Fatalf("got %v, want %v", &got, want)
	}
}

func TestProtoMsgpackRefusesBadValues(t *testing.T) {
	for name, v := range map[string]map[int]any{
		"int32 overflow":       {2: int64(math.MaxInt32) + 1},
		"uint32 negative":      {8: -1},
		"uint64 from negative": {10: int8(-1)},
		"string as int":        {14: 5},
		"bad utf-8":            {14: "\xff"},
		"bool as string":       {1: "true"},
		"message as int":       {30: 1},
		"bad unknown bytes":    {0: []byte{0xff}},
		"field number zero":    {0: []byte{0x00, 0x01}},
		"list as map":          {19: map[int]int{1: 1}},
		"negative enum range":  {16: int64(math.MinInt32) - 1},
	} {
		t.Run(name, func(t *testing.T) {
			body, err := msgpack.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			var got kitchenpb.Sink
			if err := codec.Msgpack.Unmarshal(body, &got); err == nil {
				t.Fatalf("decoded %v without an error", &got)
			}
		})
	}
}

func TestProtoRequiredFieldsAreChecked(t *testing.T) {
	for _, c := range []codec.Codec{codec.Msgpack, codec.Proto} {
		if _, err := c.Marshal(&legacy.Key{}); err == nil {
			t.Errorf("%s: encoded a Key without its required name", c.Name())
		}
		body, _ := msgpack.Marshal(map[int]any{2: 1})
		if c == codec.Proto {
			body = protowire.AppendVarint(protowire.AppendTag(nil, 2, protowire.VarintType), 1)
		}
		if err := c.Unmarshal(body, new(legacy.Key)); err == nil {
			t.Errorf("%s: decoded a Key without its required name", c.Name())
		}
	}
}

func TestProtoCodecRefusesOtherValues(t *testing.T) {
	if _, err := codec.Proto.Marshal(struct{ A int }{1}); err == nil {
		t.Error("Marshal of a struct succeeded")
	}
	var n int
	if err := codec.Proto.Unmarshal(nil, &n); err == nil {
		t.Error("Unmarshal into an int succeeded")
	}
	if codec.Proto.Name() != "proto" {
		t.Errorf("Name() = %q", codec.Proto.Name())
	}
}

func TestNilProtoMessages(t *testing.T) {
	var nilSink *kitchenpb.Sink
	b, err := codec.Msgpack.Marshal(nilSink)
	if err != nil || !bytes.Equal(b, []byte{0x80}) {
		t.Fatalf("Marshal(nil message) = % x, %v; want an empty map", b, err)
	}
	if err := codec.Msgpack.Unmarshal(b, nilSink); err == nil {
		t.Fatal("Unmarshal into a nil message succeeded")
	}
}

func TestProtoMsgpackDecodeResetsTheMessage(t *testing.T) {
	got := &kitchenpb.Sink{S: "old", Nums: []int32{1}}
	b, _ := codec.Msgpack.Marshal(&kitchenpb.Sink{Nums: []int32{2}})
	if err := codec.Msgpack.Unmarshal(b, got); err != nil {
		t.Fatal(err)
	}
	if want := (&kitchenpb.Sink{Nums: []int32{2}}); !proto.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

var _ protoreflect.ProtoMessage = (*kitchenpb.Sink)(nil)
