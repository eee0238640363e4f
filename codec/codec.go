// Package codec turns call arguments and results into message bodies and back.
//
// A codec's name travels with every request, so a server can answer clients
// that use different codecs. The default is msgpack (Msgpack); protocol
// buffer messages can also travel in their binary form (Proto).
package codec

import (
	"fmt"
	"sort"
)

// Codec encodes and decodes message bodies. Implementations must be safe for
// concurrent use.
type Codec interface {
	// Name identifies the codec on the wire; it must be stable across
	// releases and unique within a registry.
	Name() string
	Marshal(v any) ([]byte, error)
	Unmarshal(data []byte, v any) error
}

// A SharingCodec can decode byte slices as views of the data they are
// decoded from. The runtime uses it for the results of a call, whose reply
// body nothing else reads: a large []byte result is then not copied once
// more.
type SharingCodec interface {
	Codec
	// UnmarshalShared is Unmarshal, except that []byte values in v may
	// share data's memory: the caller must not change or reuse data
	// afterwards.
	UnmarshalShared(data []byte, v any) error
}

// Registry finds codecs by their wire name. The zero value is empty; use
// NewRegistry for one that also knows the default codec.
type Registry struct {
	byName map[string]Codec
}

// NewRegistry returns a registry holding Msgpack, Proto and the given
// codecs. A codec whose name is already present replaces the earlier one.
// Proto is there by default so that every server answers a client of a
// .proto service whichever of the two codecs it picked.
func NewRegistry(codecs ...Codec) *Registry {
	r := &Registry{byName: make(map[string]Codec, 2+len(codecs))}
	r.byName[Msgpack.Name()] = Msgpack
	r.byName[Proto.Name()] = Proto
	for _, c := range codecs {
		r.byName[c.Name()] = c
	}
	return r
}

// Lookup returns the codec registered under name.
func (r *Registry) Lookup(name string) (Codec, error) {
	if c, ok := r.byName[name]; ok {
		return c, nil
	}
	return nil, fmt.Errorf("codec %q is not registered (have %v)", name, r.Names())
}

// Names lists the registered codec names in sorted order.
func (r *Registry) Names() []string {
	names := make([]string, 0, len(r.byName))
	for n := range r.byName {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
