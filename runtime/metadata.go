package runtime

import (
	"context"
	"strings"
)

// Metadata is a set of key-value pairs that travels with a call, like gRPC's
// metadata. Keys are case-insensitive and stored in lower case; each key has
// one value because message properties are flat.
type Metadata map[string]string

// Pairs returns metadata from alternating keys and values. An odd trailing
// key gets an empty value.
func Pairs(kv ...string) Metadata {
	md := make(Metadata, len(kv)/2)
	for i := 0; i < len(kv); i += 2 {
		v := ""
		if i+1 < len(kv) {
			v = kv[i+1]
		}
		md[strings.ToLower(kv[i])] = v
	}
	return md
}

// Get returns the value of key, ignoring case.
func (md Metadata) Get(key string) string { return md[strings.ToLower(key)] }

// Set sets key, stored in lower case, to value.
func (md Metadata) Set(key, value string) { md[strings.ToLower(key)] = value }

// Clone returns a copy that can be changed without touching md.
func (md Metadata) Clone() Metadata {
	out := make(Metadata, len(md))
	for k, v := range md {
		out[k] = v
	}
	return out
}

type (
	outgoingKey struct{}
	incomingKey struct{}
	trailerKey  struct{}
)

// AppendOutgoingMetadata returns a context whose outgoing calls carry the
// given key-value pairs in addition to those already on ctx.
func AppendOutgoingMetadata(ctx context.Context, kv ...string) context.Context {
	md := OutgoingMetadata(ctx).Clone()
	for k, v := range Pairs(kv...) {
		md[k] = v
	}
	return context.WithValue(ctx, outgoingKey{}, md)
}

// WithOutgoingMetadata returns a context whose outgoing calls carry md,
// replacing any metadata already on ctx.
func WithOutgoingMetadata(ctx context.Context, md Metadata) context.Context {
	return context.WithValue(ctx, outgoingKey{}, md)
}

// OutgoingMetadata returns the metadata that calls made with ctx will carry.
// The result must not be changed; Clone it first.
func OutgoingMetadata(ctx context.Context) Metadata {
	md, _ := ctx.Value(outgoingKey{}).(Metadata)
	return md
}

// IncomingMetadata returns the metadata the caller sent, in a handler.
func IncomingMetadata(ctx context.Context) Metadata {
	md, _ := ctx.Value(incomingKey{}).(Metadata)
	return md
}

// SetTrailer adds key-value pairs to the trailing metadata that the reply
// of the current call carries back to the caller. It is called from a
// handler and reports false when ctx is not a handler's context.
func SetTrailer(ctx context.Context, kv ...string) bool {
	tr, ok := ctx.Value(trailerKey{}).(*Metadata)
	if !ok {
		return false
	}
	if *tr == nil {
		*tr = make(Metadata, len(kv)/2)
	}
	for k, v := range Pairs(kv...) {
		(*tr)[k] = v
	}
	return true
}

// validMetadata reports an error for a key or value that message properties
// cannot carry: RocketMQ separates properties with the bytes 0x01 and 0x02.
func validMetadata(md Metadata) error {
	for k, v := range md {
		if k == "" || strings.ContainsAny(k, propertySeparators) || strings.ContainsAny(v, propertySeparators) {
			return Errorf(InvalidArgument, "metadata %q: keys must be non-empty and neither keys nor values may contain the bytes 0x01 or 0x02", k)
		}
	}
	return nil
}

// propertySeparators are the bytes RocketMQ uses to separate property
// names, values and pairs.
const propertySeparators = "\x01\x02"

// sanitizeProperty replaces the property separators in s, so that free
// text such as an error message cannot corrupt a message's properties.
func sanitizeProperty(s string) string {
	if !strings.ContainsAny(s, propertySeparators) {
		return s
	}
	return strings.Map(func(r rune) rune {
		if r == 1 || r == 2 {
			return '\uFFFD'
		}
		return r
	}, s)
}

// putMetadata writes md into props under prefix.
func putMetadata(props map[string]string, prefix string, md Metadata) {
	for k, v := range md {
		props[prefix+k] = v
	}
}

// takeMetadata reads the metadata stored under prefix in props.
func takeMetadata(props map[string]string, prefix string) Metadata {
	var md Metadata
	for k, v := range props {
		if strings.HasPrefix(k, prefix) {
			if md == nil {
				md = make(Metadata)
			}
			md[strings.ToLower(k[len(prefix):])] = v
		}
	}
	return md
}
