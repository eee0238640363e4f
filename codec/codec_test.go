package codec_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/mqrpc/mqrpc/codec"
)

// namedCodec is a codec that only has a name; the registry never calls
// anything else.
type namedCodec struct {
	name string
	id   int
}

func (c namedCodec) Name() string                     { return c.name }
func (namedCodec) Marshal(any) ([]byte, error)        { return nil, nil }
func (namedCodec) Unmarshal(data []byte, _ any) error { return nil }

func TestRegistryLookup(t *testing.T) {
	json := namedCodec{name: "json"}
	tests := []struct {
		name    string
		reg     *codec.Registry
		lookup  string
		want    codec.Codec
		wantErr bool
	}{
		{"default has msgpack", codec.NewRegistry(), "msgpack", codec.Msgpack, false},
		{"added codec", codec.NewRegistry(json), "json", json, false},
		{"msgpack stays when others are added", codec.NewRegistry(json), "msgpack", codec.Msgpack, false},
		{"unknown name", codec.NewRegistry(json), "protobuf", nil, true},
		{"default has proto", codec.NewRegistry(), "proto", codec.Proto, false},
		{"names are case-sensitive", codec.NewRegistry(), "MsgPack", nil, true},
		{"empty name", codec.NewRegistry(), "", nil, true},
		{"later codec with the same name wins", codec.NewRegistry(namedCodec{"x", 1}, namedCodec{"x", 2}), "x", namedCodec{"x", 2}, false},
		{"msgpack can be replaced", codec.NewRegistry(namedCodec{"msgpack", 3}), "msgpack", namedCodec{"msgpack", 3}, false},
		{"zero registry is empty", &codec.Registry{}, "msgpack", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.reg.Lookup(tt.lookup)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("Lookup(%q) = %v, want an error", tt.lookup, got)
				}
				if !strings.Contains(err.Error(), `"`+tt.lookup+`"`) {
					t.Errorf("error %q does not name the codec %q", err, tt.lookup)
				}
				return
			}
			if err != nil {
				t.Fatalf("Lookup(%q): %v", tt.lookup, err)
			}
			if got != tt.want {
				t.Errorf("Lookup(%q) = %#v, want %#v", tt.lookup, got, tt.want)
			}
		})
	}
}

func TestRegistryUnknownErrorListsKnownCodecs(t *testing.T) {
	_, err := codec.NewRegistry(namedCodec{name: "json"}).Lookup("cbor")
	if err == nil || !strings.Contains(err.Error(), "json") || !strings.Contains(err.Error(), "msgpack") {
		t.Fatalf("error %v should list the registered codecs", err)
	}
}

func TestRegistryNames(t *testing.T) {
	got := codec.NewRegistry(namedCodec{name: "zeta"}, namedCodec{name: "alpha"}, namedCodec{name: "zeta"}).Names()
	if want := []string{"alpha", "msgpack", "proto", "zeta"}; !slices.Equal(got, want) {
		t.Fatalf("Names() = %q, want %q", got, want)
	}
}
