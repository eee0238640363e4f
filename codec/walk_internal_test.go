package codec

import (
	"testing"
)

type benchAdd struct {
	_msgpack struct{} `msgpack:",as_array"`
	A        int
	B        int
}

type benchRecord struct {
	ID      uint64
	Name    string
	Tags    []string
	Attrs   map[string]string
	Scores  []float64
	Payload []byte
	Parent  *benchRecord
}

// BenchmarkWalk measures the walk alone, which every msgpack Unmarshal
// now makes before decoding: compare with BenchmarkCodec's Unmarshal.
func BenchmarkWalk(b *testing.B) {
	rec := benchRecord{ID: 1, Name: "Ada Lovelace", Payload: make([]byte, 256), Attrs: map[string]string{}, Parent: &benchRecord{ID: 2}}
	for i := range 10 {
		rec.Tags = append(rec.Tags, "tag-0"+string(rune('0'+i)))
		rec.Attrs["key-"+string(rune('0'+i))] = "value"
	}
	for i := range 20 {
		rec.Scores = append(rec.Scores, float64(i)*1.5)
	}
	strs := make([]string, 1<<14)
	for i := range strs {
		strs[i] = "0123456789012345678901234567890123456789012345678901234567890"[:60]
	}
	for _, c := range []struct {
		name string
		v    any
		into func() any
	}{
		{"AddArgs", benchAdd{A: 2, B: 3}, func() any { return new(benchAdd) }},
		{"Record", rec, func() any { return new(benchRecord) }},
		{"Strings1MB", strs, func() any { return new([]string) }},
	} {
		data, err := Msgpack.Marshal(c.v)
		if err != nil {
			b.Fatal(err)
		}
		v := c.into()
		b.Run(c.name+"/checkValue", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := checkValue(data, DefaultMaxDepth); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(c.name+"/walk", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := checkTyped(data, v, Limits{}); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(c.name+"/Unmarshal", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := Msgpack.Unmarshal(data, c.into()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
