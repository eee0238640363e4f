package codec_test

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mqrpc/mqrpc/codec"
)

// jsonCodec is encoding/json behind the Codec interface, for comparison.
type jsonCodec struct{}

func (jsonCodec) Name() string                       { return "json" }
func (jsonCodec) Marshal(v any) ([]byte, error)      { return json.Marshal(v) }
func (jsonCodec) Unmarshal(data []byte, v any) error { return json.Unmarshal(data, v) }

// record is a ~1 KB value: a mix of strings, numbers, a map, bytes and a
// time, as a typical business payload.
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

func newRecord() record {
	r := record{
		ID:        1234567890,
		Name:      "Ada Lovelace",
		Email:     "ada@example.com",
		Active:    true,
		Score:     97.25,
		CreatedAt: time.Date(2025, 3, 14, 15, 9, 26, 535897932, time.UTC),
		Payload:   []byte(strings.Repeat("\x01\x02\x03\x04", 64)),
		Attrs:     make(map[string]string),
		Parent:    &record{ID: 1, Name: "root"},
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

// blobArgs has the shape mqrpcgen gives the arguments (or results) of a
// method that takes one []byte.
type blobArgs struct {
	_msgpack struct{} `msgpack:",as_array"`
	P        []byte
}

func newBlob(n int) blobArgs {
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(i * 7)
	}
	return blobArgs{P: p}
}

// stringsArgs is a large value written in many small pieces, unlike a
// []byte, which the encoder writes at once.
type stringsArgs struct {
	_msgpack struct{} `msgpack:",as_array"`
	S        []string
}

func newStrings(n int) stringsArgs {
	s := make([]string, n)
	for i := range s {
		s[i] = fmt.Sprintf("%060d", i)
	}
	return stringsArgs{S: s}
}

func BenchmarkCodec(b *testing.B) {
	codecs := []codec.Codec{codec.Msgpack, jsonCodec{}}
	values := []struct {
		name string
		v    any
		new  func() any
	}{
		{"AddArgs", addInts{A: 2, B: 3}, func() any { return new(addInts) }},
		{"Record1KB", newRecord(), func() any { return new(record) }},
		{"Bytes64KB", newBlob(64 << 10), func() any { return new(blobArgs) }},
		{"Bytes1MB", newBlob(1 << 20), func() any { return new(blobArgs) }},
		{"Strings1MB", newStrings(1 << 14), func() any { return new(stringsArgs) }}, // 16384 strings of 60 bytes
	}
	for _, val := range values {
		for _, c := range codecs {
			data, err := c.Marshal(val.v)
			if err != nil {
				b.Fatal(err)
			}
			b.Run(val.name+"/"+c.Name()+"/Marshal", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, err := c.Marshal(val.v); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(len(data)), "wire-B") // after the loop, which resets metrics
			})
			b.Run(val.name+"/"+c.Name()+"/Unmarshal", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if err := c.Unmarshal(data, val.new()); err != nil {
						b.Fatal(err)
					}
				}
			})
			sc, ok := c.(codec.SharingCodec)
			if !ok {
				continue
			}
			b.Run(val.name+"/"+c.Name()+"/UnmarshalShared", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if err := sc.UnmarshalShared(data, val.new()); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
