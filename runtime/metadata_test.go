package runtime

import (
	"context"
	"maps"
	"testing"
	"time"
)

func TestPairs(t *testing.T) {
	tests := []struct {
		name string
		kv   []string
		want Metadata
	}{
		{"none", nil, Metadata{}},
		{"keys are lower-cased", []string{"Tenant", "Acme", "X-Trace-ID", "1"}, Metadata{"tenant": "Acme", "x-trace-id": "1"}},
		{"values keep their case", []string{"k", "MiXeD"}, Metadata{"k": "MiXeD"}},
		{"odd trailing key gets an empty value", []string{"a", "1", "b"}, Metadata{"a": "1", "b": ""}},
		{"later value of a key wins, ignoring case", []string{"Key", "1", "KEY", "2"}, Metadata{"key": "2"}},
		{"empty key and value", []string{"", ""}, Metadata{"": ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Pairs(tt.kv...); !maps.Equal(got, tt.want) {
				t.Errorf("Pairs(%q) = %v, want %v", tt.kv, got, tt.want)
			}
		})
	}
}

func TestMetadataGetSetIgnoreCase(t *testing.T) {
	md := Pairs("Authorization", "Bearer x")
	for _, k := range []string{"authorization", "AUTHORIZATION", "Authorization"} {
		if got := md.Get(k); got != "Bearer x" {
			t.Errorf("Get(%q) = %q, want %q", k, got, "Bearer x")
		}
	}
	md.Set("AUTHORIZATION", "Bearer y")
	if len(md) != 1 || md["authorization"] != "Bearer y" {
		t.Errorf("Set with another case added a key: %v", md)
	}
	if got := md.Get("missing"); got != "" {
		t.Errorf("Get of a missing key = %q", got)
	}
	var none Metadata
	if got := none.Get("x"); got != "" {
		t.Errorf("Get on nil metadata = %q", got)
	}
}

func TestMetadataClone(t *testing.T) {
	md := Pairs("a", "1")
	c := md.Clone()
	c.Set("a", "2")
	c.Set("b", "3")
	if !maps.Equal(md, Metadata{"a": "1"}) {
		t.Errorf("changing a clone changed the original: %v", md)
	}
	var none Metadata
	if c := none.Clone(); c == nil || len(c) != 0 {
		t.Errorf("Clone of nil = %#v, want empty, usable metadata", c)
	}
}

func TestOutgoingMetadata(t *testing.T) {
	bg := context.Background()
	if md := OutgoingMetadata(bg); md != nil {
		t.Errorf("OutgoingMetadata of a bare context = %v, want nil", md)
	}

	parent := AppendOutgoingMetadata(bg, "Tenant", "acme", "trace", "1")
	child := AppendOutgoingMetadata(parent, "TRACE", "2", "user", "bob")

	if want := (Metadata{"tenant": "acme", "trace": "1"}); !maps.Equal(OutgoingMetadata(parent), want) {
		t.Errorf("parent metadata = %v, want %v (append must not mutate it)", OutgoingMetadata(parent), want)
	}
	if want := (Metadata{"tenant": "acme", "trace": "2", "user": "bob"}); !maps.Equal(OutgoingMetadata(child), want) {
		t.Errorf("child metadata = %v, want %v", OutgoingMetadata(child), want)
	}

	// Two children of one parent do not see each other.
	sibling := AppendOutgoingMetadata(parent, "other", "x")
	if OutgoingMetadata(child).Get("other") != "" || OutgoingMetadata(sibling).Get("user") != "" {
		t.Errorf("siblings share metadata: %v / %v", OutgoingMetadata(child), OutgoingMetadata(sibling))
	}

	replaced := WithOutgoingMetadata(child, Pairs("only", "this"))
	if want := (Metadata{"only": "this"}); !maps.Equal(OutgoingMetadata(replaced), want) {
		t.Errorf("WithOutgoingMetadata = %v, want %v", OutgoingMetadata(replaced), want)
	}
	// Appending to metadata set with WithOutgoingMetadata leaves that map alone.
	md := Pairs("a", "1")
	_ = AppendOutgoingMetadata(WithOutgoingMetadata(bg, md), "b", "2")
	if !maps.Equal(md, Metadata{"a": "1"}) {
		t.Errorf("AppendOutgoingMetadata changed the caller's map: %v", md)
	}
}

func TestIncomingMetadata(t *testing.T) {
	if md := IncomingMetadata(context.Background()); md != nil {
		t.Errorf("IncomingMetadata of a bare context = %v, want nil", md)
	}
	// Outgoing metadata is not incoming: a handler that calls on does
	// not forward what it received unless it says so.
	out := AppendOutgoingMetadata(context.Background(), "a", "1")
	if md := IncomingMetadata(out); md != nil {
		t.Errorf("outgoing metadata showed up as incoming: %v", md)
	}
	in := &handlerContext{parent: context.Background(), deadline: time.Now().Add(time.Minute), md: Pairs("Tenant", "acme")}
	if got := IncomingMetadata(in).Get("TENANT"); got != "acme" {
		t.Errorf("IncomingMetadata.Get = %q, want acme", got)
	}
	if md := OutgoingMetadata(in); md != nil {
		t.Errorf("incoming metadata showed up as outgoing: %v", md)
	}
}

func TestSetTrailer(t *testing.T) {
	if SetTrailer(context.Background(), "a", "1") {
		t.Error("SetTrailer outside a handler reported true")
	}
	var tr Metadata
	ctx := context.WithValue(context.Background(), trailerKey{}, &tr)
	if !SetTrailer(ctx, "A", "1") || !SetTrailer(ctx, "b", "2", "a", "3") {
		t.Fatal("SetTrailer in a handler context reported false")
	}
	if want := (Metadata{"a": "3", "b": "2"}); !maps.Equal(tr, want) {
		t.Errorf("trailer = %v, want %v", tr, want)
	}
}

func TestMetadataProperties(t *testing.T) {
	props := map[string]string{PropMethod: "/s/m"}
	putMetadata(props, MetadataPrefix, Pairs("tenant", "acme", "empty", ""))
	putMetadata(props, TrailerPrefix, Pairs("t", "1"))
	if got := takeMetadata(props, MetadataPrefix); !maps.Equal(got, Metadata{"tenant": "acme", "empty": ""}) {
		t.Errorf("request metadata = %v", got)
	}
	if got := takeMetadata(props, TrailerPrefix); !maps.Equal(got, Metadata{"t": "1"}) {
		t.Errorf("trailer = %v", got)
	}
	if got := takeMetadata(map[string]string{PropMethod: "/s/m"}, MetadataPrefix); got != nil {
		t.Errorf("metadata of a message without any = %v, want nil", got)
	}
}
