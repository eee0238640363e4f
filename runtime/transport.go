package runtime

import (
	"context"
	"errors"
	"time"
)

// Message is what a Transport carries: a request, a reply or a one-way call.
// Properties and Body belong to the message once it is handed to a Transport;
// neither side may change them afterwards.
type Message struct {
	Topic string
	// Tag is the method name; brokers can filter on it.
	Tag string
	// Key is the call id, so that a call can be looked up in the broker.
	Key string
	// Keys are the business keys of a request (WithKeys), which the broker
	// indexes besides Key. Transports that keep no index ignore them.
	Keys []string
	// OrderKey is the order key of an ordered call (WithOrderKey), also
	// in its PropOrderKey property; an OrderedTransport routes by it.
	OrderKey   string
	Properties map[string]string
	Body       []byte
	// Origin is the transport's own form of a message it delivered, kept
	// for its Reply; nil on messages built by the runtime.
	Origin any
	// SentAt is when the sender handed the message to its transport, by
	// the sender's clock, and StoredAt when the broker stored it, by the
	// broker's clock. Transports set them on the messages they deliver
	// (requests to handlers, replies to the reply listener) and leave them
	// zero when they cannot tell; they ignore them on messages handed to
	// them. Servers and clients report them in CallInfo.
	SentAt, StoredAt time.Time
	// Attempt is which delivery of a request this is to a handler: 1 for
	// the first, 2 for the first redelivery, and so on; 0 when the
	// transport cannot tell. A transport counts only the redeliveries it
	// knows of: RocketMQ counts a message handed back by a handler, not one
	// delivered again because the server died before acknowledging it.
	Attempt int
	// Err, on a request a transport delivers, says that its body could
	// not be delivered as sent: it was flagged compressed and does not
	// inflate, or inflates past the transport's limit. Body is then
	// empty, and a server answers Err (a *Error: InvalidArgument,
	// ResourceExhausted) without running a handler.
	Err error
}

// Property names that mqrpc sets on messages. docs/PROTOCOL.md is the
// normative description.
const (
	// PropCorrelationID is RocketMQ's request/reply correlation property
	// (RIP-16). The client sets it to the call id; a transport copies it
	// from a request to its reply.
	PropCorrelationID = "CORRELATION_ID"

	PropMethod   = "mqrpc-method"   // full method name, "/pkg.Service/Method"
	PropCodec    = "mqrpc-codec"    // codec name of the body
	PropVersion  = "mqrpc-version"  // protocol version
	PropDeadline = "mqrpc-deadline" // absolute deadline, unix milliseconds
	PropStatus   = "mqrpc-status"   // reply status code; absent means OK
	PropMessage  = "mqrpc-message"  // reply status message
	PropReceived = "mqrpc-received" // reply: when the server took the request, unix milliseconds

	// Call metadata travels as one property per key with this prefix on the
	// request, and trailing metadata with TrailerPrefix on the reply.
	MetadataPrefix = "mqrpc-md-"
	TrailerPrefix  = "mqrpc-tr-"
)

// ProtocolVersion is the version of the wire protocol this runtime speaks.
const ProtocolVersion = "1"

// MessageHandler consumes one delivered message. It returns nil once the message
// is dealt with; ErrDeadLetter asks the transport to move it to its
// dead-letter queue, never to deliver it again; another non-nil error asks
// the transport to deliver it again later (the server does this only when
// it is stopping).
type MessageHandler func(ctx context.Context, msg *Message) error

// Subscription is a running consumer of a topic.
type Subscription interface {
	// Stop ends delivery to the handler and waits for the handler calls
	// in progress to return.
	Stop() error
}

// Transport carries messages between clients and servers. A Client uses
// ListenReplies, Request and Send; a Server uses Subscribe and Reply. One
// transport value may serve both. Transports must be safe for concurrent
// use.
//
// runtime/transporttest holds the conformance suite every transport must
// pass.
type Transport interface {
	// ListenReplies delivers every reply addressed to this transport to h.
	// It is called before the first Request. h must not block.
	ListenReplies(h func(reply *Message)) error

	// Request publishes a request whose reply is to come back to the reply
	// listener. It returns when the message is stored, or with an error
	// when it cannot be; it never waits for the reply.
	Request(ctx context.Context, msg *Message) error

	// Send publishes a message that expects no reply, returning when it is
	// stored.
	Send(ctx context.Context, msg *Message) error

	// Subscribe consumes topic as a member of the consumer group: each
	// message of the topic is handled by one member of each group.
	// Messages stored before the group's first member subscribed are
	// delivered too.
	Subscribe(topic, group string, h MessageHandler) (Subscription, error)

	// Reply routes reply to the client that sent request.
	Reply(ctx context.Context, request, reply *Message) error

	// Close releases the transport. Calls after Close fail with ErrClosed.
	Close() error
}

// A NamedTransport names the messaging system it carries messages over, as
// OpenTelemetry's messaging.system attribute does: "rocketmq" for the
// RocketMQ transport. Clients and servers report it in CallInfo.System.
type NamedTransport interface {
	Transport
	System() string
}

// systemOf is t's name, or "" when it gives none.
func systemOf(t Transport) string {
	if n, ok := t.(NamedTransport); ok {
		return n.System()
	}
	return ""
}

// ErrRequesterGone is what a transport's Reply wraps when the broker
// stored the reply but could not push it to its requester, whose
// connection went away as it was pushed: the caller has left (a short-lived
// command that exited), and sending the reply again would only store it
// again.
var ErrRequesterGone = errors.New("mqrpc: the requester is gone")

// ErrClosed is returned by transports, clients and servers used after Close.
var ErrClosed = errors.New("mqrpc: closed")
