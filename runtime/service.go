package runtime

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// ServiceDesc describes a service to a Server. Generated code builds one per
// service; users pass it to Server.RegisterService through the generated
// Register function.
type ServiceDesc struct {
	// ServiceName is the fully qualified name, "calculator.Calculator".
	ServiceName string
	// HandlerType is a nil pointer to the service interface; registration
	// checks that the implementation satisfies it.
	HandlerType any
	Methods     []MethodDesc
}

// MethodDesc describes one method of a service.
type MethodDesc struct {
	// Name is the method's short name, "Add".
	Name string
	// OneWay methods take no reply: the server never answers them.
	OneWay bool
	// Idempotent methods are safe to repeat with the same arguments (a Go
	// method's mqrpc:idempotent doc line, a .proto method's
	// idempotency_level); the description says so, and mqrpc replay
	// re-sends only these unless told otherwise.
	Idempotent bool
	// NewArgs returns a pointer to a fresh value to decode arguments into.
	NewArgs func() any
	// Call invokes the method on impl with decoded args and returns the
	// results to encode (nil when the method has none but its error).
	Call func(ctx context.Context, impl any, args any) (any, error)
	// Params and Results name and type the method's parameters and
	// results, and Body says how they travel; generated code fills them
	// in for the description a server answers (see DescribeMethod).
	Params, Results []Field
	Body            BodyKind
}

// FullMethodName returns "/service/method", the name a method has on the
// wire and in interceptors.
func FullMethodName(service, method string) string {
	return "/" + service + "/" + method
}

// splitMethod splits "/service/method" into its parts.
func splitMethod(full string) (service, method string, ok bool) {
	if !strings.HasPrefix(full, "/") {
		return "", "", false
	}
	service, method, ok = strings.Cut(full[1:], "/")
	return service, method, ok && service != "" && method != "" && !strings.Contains(method, "/")
}

// maxTopicLen is RocketMQ's limit on topic names.
const maxTopicLen = 127

// TopicFor returns the request topic of a service: its name with every
// character RocketMQ does not allow in topics (anything outside
// [A-Za-z0-9_-], dots included) replaced by '_'. Names longer than 127
// characters are cut and suffixed with a hash of the full name so that they
// stay distinct.
func TopicFor(service string) string {
	b := []byte(service)
	for i, c := range b {
		if !isTopicChar(c) {
			b[i] = '_'
		}
	}
	if len(b) > maxTopicLen {
		sum := sha256.Sum256([]byte(service))
		h := hex.EncodeToString(sum[:8])
		b = append(b[:maxTopicLen-len(h)-1], '_')
		b = append(b, h...)
	}
	return string(b)
}

// maxGroupLen is RocketMQ's limit on consumer group names (5.x: broker and
// Java client alike). A broker takes a longer group's subscription and
// never delivers to it.
const maxGroupLen = 120

// GroupFor returns the consumer group that servers of a service join, so
// that each request is handled by one of them: the topic followed by
// "_server". A topic too long for that keeps its first 96 bytes, followed
// by '_' and 16 hex digits of the SHA-256 of the whole topic, so that
// topics alike but for their ends get groups of their own.
func GroupFor(topic string) string {
	const suffix = "_server"
	if len(topic)+len(suffix) <= maxGroupLen {
		return topic + suffix
	}
	sum := sha256.Sum256([]byte(topic))
	h := hex.EncodeToString(sum[:8])
	return topic[:maxGroupLen-len(suffix)-len(h)-1] + "_" + h + suffix
}

func isTopicChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}
