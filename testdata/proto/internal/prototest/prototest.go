// Package prototest holds what the protobuf golden tests share beyond
// goldentest.Serve: the codecs they call with and a bounded context.
package prototest

import (
	"context"
	"testing"
	"time"

	"github.com/mqrpc/mqrpc/codec"
)

// Codecs are the codecs every golden test calls with; a server answers
// both without being told.
var Codecs = []codec.Codec{codec.Msgpack, codec.Proto}

// Ctx is a context that ends with the test or after ten seconds.
func Ctx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}
