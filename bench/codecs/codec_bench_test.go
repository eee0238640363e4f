package codecs

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/mqrpc/mqrpc/bench/codecs/recordpb"
	"github.com/mqrpc/mqrpc/codec"
	"github.com/mqrpc/mqrpc/examples/calcpb/calcv1"
)

// jsonCodec is encoding/json behind the Codec interface.
type jsonCodec struct{}

func (jsonCodec) Name() string                       { return "json" }
func (jsonCodec) Marshal(v any) ([]byte, error)      { return json.Marshal(v) }
func (jsonCodec) Unmarshal(data []byte, v any) error { return json.Unmarshal(data, v) }

// addArgs is the generated argument struct of Calculator.Add.
type addArgs struct {
	_msgpack struct{} `msgpack:",as_array"`
	A        int
	B        int
}

// record is the 1 KB value, as a Go struct; recordpb.Record is the same as
// a protobuf message.
type record struct {
	ID        uint64
	Name      string
	Email     string
	Active    bool
	Score     float64
	Tags      []string
	Readings  []float64
	Attrs     map[string]string
	CreatedAt time.Time
	Payload   []byte
	Parent    *record
}

var created = time.Date(2025, 3, 14, 15, 9, 26, 535897932, time.UTC)

func newRecord() *record {
	r := &record{
		ID: 1234567890, Name: "Ada Lovelace", Email: "ada@example.com", Active: true, Score: 97.25,
		CreatedAt: created, Payload: []byte(strings.Repeat("\x01\x02\x03\x04", 64)),
		Attrs: map[string]string{}, Parent: &record{ID: 1, Name: "root"},
	}
	for i := range 10 {
		r.Tags = append(r.Tags, "tag-"+strconv.Itoa(i))
		r.Attrs["key-"+strconv.Itoa(i)] = "value-" + strconv.Itoa(i)
	}
	for i := range 20 {
		r.Readings = append(r.Readings, float64(i)*1.5)
	}
	return r
}

func newRecordPB() *recordpb.Record {
	g := newRecord()
	return &recordpb.Record{
		Id: g.ID, Name: g.Name, Email: g.Email, Active: g.Active, Score: g.Score,
		Tags: g.Tags, Readings: g.Readings, Attrs: g.Attrs, CreatedAt: timestamppb.New(g.CreatedAt),
		Payload: g.Payload, Parent: &recordpb.Record{Id: 1, Name: "root"},
	}
}

// BenchmarkCodec/value=V/codec=C/op=Marshal|Unmarshal; wire-B is the
// encoded size.
func BenchmarkCodec(b *testing.B) {
	type value struct {
		name  string
		codec codec.Codec
		v     any
		new   func() any
	}
	values := []value{
		{"AddArgs", codec.Msgpack, &addArgs{A: 2, B: 3}, func() any { return new(addArgs) }},
		{"AddArgs", jsonCodec{}, &addArgs{A: 2, B: 3}, func() any { return new(addArgs) }},
		{"AddArgs", codec.Proto, &calcv1.AddRequest{A: 2, B: 3}, func() any { return new(calcv1.AddRequest) }},
		{"Record1KB", codec.Msgpack, newRecord(), func() any { return new(record) }},
		{"Record1KB", jsonCodec{}, newRecord(), func() any { return new(record) }},
		{"Record1KB", codec.Proto, newRecordPB(), func() any { return new(recordpb.Record) }},
	}
	for _, v := range values {
		data, err := v.codec.Marshal(v.v)
		if err != nil {
			b.Fatal(err)
		}
		b.Run("value="+v.name+"/codec="+v.codec.Name()+"/op=Marshal", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.codec.Marshal(v.v); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(data)), "wire-B")
		})
		b.Run("value="+v.name+"/codec="+v.codec.Name()+"/op=Unmarshal", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := v.codec.Unmarshal(data, v.new()); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(data)), "wire-B")
		})
	}
}
