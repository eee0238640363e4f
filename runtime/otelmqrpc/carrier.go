package otelmqrpc

import (
	"context"
	"strings"

	"go.opentelemetry.io/otel/propagation"

	"github.com/mqrpc/mqrpc/runtime"
)

// inject adds the trace context of ctx to the call's outgoing metadata.
func inject(ctx context.Context, p propagation.TextMapPropagator) context.Context {
	var out outgoing
	p.Inject(ctx, &out)
	if len(out) == 0 {
		return ctx
	}
	return runtime.AppendOutgoingMetadata(ctx, out...)
}

// extract returns ctx with the remote span context the caller sent, if any.
func extract(ctx context.Context, p propagation.TextMapPropagator) context.Context {
	return p.Extract(ctx, incoming(runtime.IncomingMetadata(ctx)))
}

// outgoing collects key-value pairs for runtime.AppendOutgoingMetadata.
type outgoing []string

func (o *outgoing) Set(key, value string) {
	// Message properties cannot carry these bytes, and a call must not
	// fail for its tracing: such a field is left out.
	if strings.ContainsAny(key, "\x01\x02") || strings.ContainsAny(value, "\x01\x02") {
		return
	}
	*o = append(*o, key, value)
}

func (o *outgoing) Get(key string) string {
	for i := 0; i+1 < len(*o); i += 2 {
		if strings.EqualFold((*o)[i], key) {
			return (*o)[i+1]
		}
	}
	return ""
}

func (o *outgoing) Keys() []string {
	keys := make([]string, 0, len(*o)/2)
	for i := 0; i < len(*o); i += 2 {
		keys = append(keys, (*o)[i])
	}
	return keys
}

// incoming reads call metadata, whose keys are lower case, as the
// propagator's carrier.
type incoming runtime.Metadata

func (in incoming) Get(key string) string { return runtime.Metadata(in).Get(key) }
func (in incoming) Set(key, value string) {
	if in != nil {
		runtime.Metadata(in).Set(key, value)
	}
}

func (in incoming) Keys() []string {
	keys := make([]string, 0, len(in))
	for k := range in {
		keys = append(keys, k)
	}
	return keys
}
