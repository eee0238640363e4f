package runtime

import (
	"context"
	"sync"
	"time"
)

// CallInfo is what the runtime knows about one call: its id and when its
// request and reply were sent, stored and received. Interceptors read it
// with CallInfoFromContext to log, trace and measure calls.
//
// Each time is taken by a different clock: Sent by the sender's, Stored by
// the broker's, Received by the receiver's. Durations between times of two
// machines (QueueWait, ReplyTransit) are only as good as the clocks agree.
// A zero time is one the side reading it cannot know: a client does not
// learn when its request was received, and the transport may not report
// when a message was sent or stored.
type CallInfo struct {
	// ID is the call id: the request's key and correlation id.
	ID string
	// Method is the full method name, "/pkg.Service/Method".
	Method string
	// Topic is the topic the request travels on.
	Topic string
	// System names the messaging system the call travels over ("rocketmq"),
	// as its transport gives it (NamedTransport); "" when it gives none.
	System string

	// RequestSent is when the client handed the request to its transport:
	// taken by the client itself on the client side, and as the transport
	// reports the request's send (born) time on the server side.
	RequestSent time.Time
	// RequestStored is when the broker stored the request (server side).
	RequestStored time.Time
	// RequestReceived is when the server took the request to run it, after
	// waiting for a free handler slot (server side).
	RequestReceived time.Time
	// Attempt is which delivery of the request this is (server side): 1
	// the first time, more when the queue delivers it again; 0 when the
	// transport cannot tell. A redelivery after a server died is not
	// always counted (see Message.Attempt): a handler that must not repeat
	// an effect needs a DedupStore, or to record the call id with the
	// effect.
	Attempt int

	// ReplySent is when the server sent the reply, and ReplyStored when
	// the broker stored it, as the client's transport reports them (client
	// side, once a reply has come).
	ReplySent   time.Time
	ReplyStored time.Time
	// ReplyReceived is when the reply reached the waiting call (client
	// side).
	ReplyReceived time.Time
}

// QueueWait is how long the request took from its sender to the server
// that ran it: the time in the queue, including the broker's delivery. It
// is zero when either time is unknown, and when clock skew between client
// and server would make it negative.
func (ci CallInfo) QueueWait() time.Duration { return since(ci.RequestSent, ci.RequestReceived) }

// ReplyTransit is how long the reply took from the server to the waiting
// call. It is zero when either time is unknown, and when clock skew would
// make it negative.
func (ci CallInfo) ReplyTransit() time.Duration { return since(ci.ReplySent, ci.ReplyReceived) }

func since(from, to time.Time) time.Duration {
	if from.IsZero() || to.IsZero() {
		return 0
	}
	return max(to.Sub(from), 0)
}

// CallInfoFromContext returns what is known about the call of ctx.
//
// In a server interceptor or handler it describes the request being
// handled. In a client interceptor it describes the call that the
// interceptor's invoke makes: read it after invoke returns, from the ctx the
// interceptor was given, to see the call id and the reply's times.
func CallInfoFromContext(ctx context.Context) (CallInfo, bool) {
	var r *callRecord
	switch v := ctx.Value(callKey{}).(type) {
	case *callRecord: // a handler's
		r = v
	case *clientCall:
		r = &v.rec
	default:
		return CallInfo{}, false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.info, true
}

type callKey struct{}

// callRecord is what is known about a call, on either side.
type callRecord struct {
	// mu guards info: an interceptor may run invoke on another goroutine.
	mu   sync.Mutex
	info CallInfo
}

func (r *callRecord) update(f func(*CallInfo)) {
	r.mu.Lock()
	f(&r.info)
	r.mu.Unlock()
}

// sent notes the request a client hands to its transport at now.
func (r *callRecord) sent(msg *Message, now time.Time) {
	r.update(func(ci *CallInfo) {
		ci.ID, ci.Method, ci.Topic, ci.RequestSent = msg.Key, msg.Properties[PropMethod], msg.Topic, now
	})
}
