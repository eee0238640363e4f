package runtime

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"

	"github.com/mqrpc/mqrpc/codec"
)

// Client makes calls over a Transport. Generated clients wrap one; it is safe
// for concurrent use. A Client does not own its transport: Close the
// transport after the client.
type Client struct {
	transport Transport
	opts      clientOptions
	invoke    Invoker // interceptor chain ending in c.invoke
	send      Invoker // interceptor chain ending in c.sendOneWay

	idPrefix string
	nextID   atomic.Uint64
	system   string // of the transport, for CallInfo

	mu      sync.Mutex
	pending map[string]chan *Message // by call id; nil value never stored
	fanouts map[string]*fanoutCall   // fan-out calls by call id; see fanout.go
	closed  bool

	dropped atomic.Uint64
	topics  sync.Map // full method name -> topicAndTag
}

type topicAndTag struct{ topic, tag string }

// NewClient returns a client that calls over t. It starts listening for
// replies on t at once, so the first call's reply cannot be missed.
func NewClient(t Transport, opts ...ClientOption) (*Client, error) {
	c := &Client{
		transport: t,
		opts: clientOptions{
			maxMessageSize: DefaultMaxMessageSize,
			maxPending:     DefaultMaxPending,
			logger:         discardLogger,
		},
		pending: make(map[string]chan *Message),
	}
	for _, o := range opts {
		o.applyClient(&c.opts)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	c.idPrefix = hex.EncodeToString(b[:]) + "-"
	c.system = systemOf(t)
	c.invoke = chainClient(c.opts.interceptors, c.call)
	c.send = chainClient(c.opts.interceptors, c.sendOneWay)
	if err := t.ListenReplies(c.onReply); err != nil {
		return nil, wrapError(Unavailable, err)
	}
	return c, nil
}

// Invoke calls method ("/pkg.Service/Method") with args and decodes the
// results into results. Generated clients call it; args and results are
// pointers to the generated argument and result structs.
func (c *Client) Invoke(ctx context.Context, method string, args, results any, opts ...CallOption) error {
	cc := c.newCall(method, opts)
	if len(c.opts.interceptors) == 0 {
		return c.roundTrip(ctx, cc, method, args, results)
	}
	return c.invoke(context.WithValue(ctx, callKey{}, cc), method, args, results)
}

// Send makes a one-way call: it returns once the transport has stored the
// request, and no reply ever comes.
func (c *Client) Send(ctx context.Context, method string, args any, opts ...CallOption) error {
	cc := c.newCall(method, opts)
	if len(c.opts.interceptors) == 0 {
		return c.sendCall(ctx, cc, method, args)
	}
	return c.send(context.WithValue(ctx, callKey{}, cc), method, args, nil)
}

// clientCall is one call's state: what CallInfoFromContext reports, the
// resolved call options and the request, in one allocation. With
// interceptors it travels on the context, from Invoke through the chain to
// its end, so that interceptors keep a small signature.
type clientCall struct {
	rec  callRecord
	opts callOptions
	req  Message
}

func (c *Client) newCall(method string, opts []CallOption) *clientCall {
	cc := &clientCall{opts: callOptions{codec: codec.Msgpack}}
	cc.rec.info.Method = method
	cc.rec.info.System = c.system
	for _, f := range c.opts.callDefaults {
		f(&cc.opts)
	}
	for _, f := range opts {
		f(&cc.opts)
	}
	return cc
}

// callFrom returns the call Invoke or Send put on ctx; an interceptor that
// starts a new context loses it, and the call gets the client's default
// options and a record no interceptor sees.
func (c *Client) callFrom(ctx context.Context, method string) *clientCall {
	if cc, ok := ctx.Value(callKey{}).(*clientCall); ok {
		return cc
	}
	return c.newCall(method, nil)
}

// ClientStats describes a client's calls at one moment, for operators: a
// snapshot, as database/sql's DBStats is.
type ClientStats struct {
	// Pending is the number of calls waiting for a reply.
	Pending int
	// DroppedReplies counts replies that found no waiting call: late ones
	// after a timeout or cancel, and duplicates.
	DroppedReplies uint64
}

// Stats returns the client's counters as they are now.
func (c *Client) Stats() ClientStats {
	c.mu.Lock()
	pending := len(c.pending) + len(c.fanouts)
	c.mu.Unlock()
	return ClientStats{Pending: pending, DroppedReplies: c.dropped.Load()}
}

// Close fails every pending call with Canceled and makes later calls fail
// with Unavailable. It does not close the transport.
func (c *Client) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	c.closed = true
	for id, ch := range c.pending {
		delete(c.pending, id)
		close(ch)
	}
	for _, fc := range c.fanouts {
		close(fc.closed)
	}
	return nil
}

// call is the end of the interceptor chain for a call with a reply.
func (c *Client) call(ctx context.Context, method string, args, results any) error {
	return c.roundTrip(ctx, c.callFrom(ctx, method), method, args, results)
}

// sendOneWay is the end of the interceptor chain for a one-way call.
func (c *Client) sendOneWay(ctx context.Context, method string, args, _ any) error {
	return c.sendCall(ctx, c.callFrom(ctx, method), method, args)
}

// roundTrip sends the request of cc and waits for its reply.
func (c *Client) roundTrip(ctx context.Context, cc *clientCall, method string, args, results any) error {
	deadline, now, err := c.newRequest(ctx, cc, method, args)
	if err != nil {
		return err
	}
	msg := &cc.req
	id := msg.Key
	ch := replyChans.Get().(chan *Message)
	if err := c.addPending(id, ch); err != nil {
		replyChans.Put(ch)
		return err
	}
	cc.rec.sent(msg, now)
	if err := c.transport.Request(ctx, msg); err != nil {
		if c.removePending(id) {
			replyChans.Put(ch)
		}
		return sendError(ctx, err)
	}

	// The call ends at the first of: a reply, ctx done, or the deadline
	// that travels with the request (which may be earlier than ctx's).
	var expired <-chan time.Time
	if d, ok := ctx.Deadline(); !ok || deadline.Before(d) {
		// The send may have taken part of the time left.
		timer := newTimer(time.Until(deadline))
		defer releaseTimer(timer)
		expired = timer.C
	}
	var reply *Message
	var ok bool
	select {
	case reply, ok = <-ch:
	case <-ctx.Done():
		if !c.removePending(id) {
			reply, ok = <-ch // a reply won the race; use it
			break
		}
		replyChans.Put(ch)
		return fromContextError(ctx.Err())
	case <-expired:
		if !c.removePending(id) {
			reply, ok = <-ch
			break
		}
		replyChans.Put(ch)
		return Errorf(DeadlineExceeded, "no reply to %s by its deadline", method)
	}
	if !ok {
		return NewError(Canceled, "client closed") // ch is closed: not reused
	}
	// The one reply sent on ch has been taken, and the call is no longer
	// pending: nothing sends on ch again.
	replyChans.Put(ch)
	cc.rec.update(func(ci *CallInfo) {
		ci.ReplySent, ci.ReplyStored, ci.ReplyReceived = reply.SentAt, reply.StoredAt, time.Now()
	})
	return c.decodeReply(reply, results, &cc.opts)
}

// sendCall sends the request of the one-way call cc.
func (c *Client) sendCall(ctx context.Context, cc *clientCall, method string, args any) error {
	_, now, err := c.newRequest(ctx, cc, method, args)
	if err != nil {
		return err
	}
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	if closed {
		return wrapError(Unavailable, ErrClosed)
	}
	cc.rec.sent(&cc.req, now)
	if err := c.transport.Send(ctx, &cc.req); err != nil {
		return sendError(ctx, err)
	}
	return nil
}

// replyChans holds the channels on which calls wait for their replies. A
// channel goes back only when it is empty and in no pending entry, so no
// send can reach it while another call uses it.
var replyChans = sync.Pool{New: func() any { return make(chan *Message, 1) }}

// timers holds stopped timers. Since Go 1.23 a stopped or reset timer
// delivers no stale tick, so a pooled timer is as good as a new one.
var timers sync.Pool

func newTimer(d time.Duration) *time.Timer {
	if t, ok := timers.Get().(*time.Timer); ok {
		t.Reset(d)
		return t
	}
	return time.NewTimer(d)
}

func releaseTimer(t *time.Timer) {
	t.Stop()
	timers.Put(t)
}

// newRequest fills in the request of cc and returns its absolute deadline,
// counted from the start of the call, and the time the request was ready
// to be sent.
func (c *Client) newRequest(ctx context.Context, cc *clientCall, method string, args any) (deadline, now time.Time, err error) {
	if err := ctx.Err(); err != nil {
		return deadline, now, fromContextError(err)
	}
	o := &cc.opts
	tt, err := c.route(method, o)
	if err != nil {
		return deadline, now, err
	}
	deadline = callDeadline(ctx, o.timeout, time.Now())
	body, err := o.codec.Marshal(args)
	if err != nil {
		return deadline, now, Errorf(Internal, "encode arguments of %s: %v", method, err)
	}
	if len(body) > c.opts.maxMessageSize {
		return deadline, now, Errorf(ResourceExhausted, "request to %s is %d bytes, over the limit of %d", method, len(body), c.opts.maxMessageSize)
	}
	md := OutgoingMetadata(ctx)
	if err := validMetadata(md); err != nil {
		return deadline, now, err
	}
	for _, k := range o.keys {
		if k == "" || strings.ContainsFunc(k, unicode.IsSpace) {
			return deadline, now, Errorf(InvalidArgument, "business key %q of a call to %s: keys must be non-empty and without white space", k, method)
		}
	}
	// The call id and the deadline share one allocation.
	var buf [64]byte
	b := strconv.AppendUint(append(buf[:0], c.idPrefix...), c.nextID.Add(1), 36)
	n := len(b)
	both := string(strconv.AppendInt(b, deadline.UnixMilli(), 10))
	id := both[:n]
	props := make(map[string]string, 5+len(md))
	props[PropCorrelationID] = id
	props[PropMethod] = method
	props[PropCodec] = o.codec.Name()
	props[PropVersion] = ProtocolVersion
	props[PropDeadline] = both[n:]
	putMetadata(props, MetadataPrefix, md)
	cc.req = Message{Topic: tt.topic, Tag: tt.tag, Key: id, Keys: o.keys, Properties: props, Body: body}
	if err := c.orderRequest(o, &cc.req, method); err != nil {
		return deadline, now, err
	}
	return deadline, time.Now(), nil
}

// route returns the topic and tag of method, computed once per method.
func (c *Client) route(method string, o *callOptions) (topicAndTag, error) {
	if v, ok := c.topics.Load(method); ok && o.topic == "" {
		return v.(topicAndTag), nil
	}
	service, name, ok := splitMethod(method)
	if !ok {
		return topicAndTag{}, Errorf(InvalidArgument, "malformed method name %q, want /service/method", method)
	}
	if o.topic != "" {
		return topicAndTag{topic: o.topic, tag: name}, nil
	}
	tt := topicAndTag{topic: TopicFor(service), tag: name}
	c.topics.Store(method, tt)
	return tt, nil
}

func (c *Client) addPending(id string, ch chan *Message) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return wrapError(Unavailable, ErrClosed)
	}
	if len(c.pending) >= c.opts.maxPending {
		return Errorf(ResourceExhausted, "%d calls already pending", len(c.pending))
	}
	c.pending[id] = ch
	return nil
}

// removePending forgets a call and reports whether it was still pending.
// When it was not, a reply (or Close) has already completed it.
func (c *Client) removePending(id string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.pending[id]; !ok {
		return false
	}
	delete(c.pending, id)
	return true
}

// onReply hands a reply to the call waiting for it. Only the first reply of
// a unary call finds it, and the replies of a fan-out call that has not
// ended; any other is counted as dropped.
func (c *Client) onReply(m *Message) {
	id := m.Properties[PropCorrelationID]
	c.mu.Lock()
	ch, ok := c.pending[id]
	if ok {
		delete(c.pending, id)
	} else if len(c.fanouts) > 0 && c.onFanoutReply(id, m) {
		// A fan-out call takes every reply until it ends.
		c.mu.Unlock()
		return
	}
	c.mu.Unlock()
	if !ok {
		c.dropped.Add(1)
		c.opts.logger.Debug("mqrpc: dropped reply with no pending call", "call_id", id)
		return
	}
	ch <- m // buffered, and only the one who deleted the entry sends
}

// decodeReply turns a reply into the call's results or error.
func (c *Client) decodeReply(m *Message, results any, o *callOptions) error {
	if o.trailer != nil {
		*o.trailer = takeMetadata(m.Properties, TrailerPrefix)
	}
	if s, ok := m.Properties[PropStatus]; ok && s != "0" {
		code, err := strconv.ParseUint(s, 10, 32)
		if err != nil {
			return Errorf(Internal, "reply has malformed status %q", s)
		}
		return &Error{Code: Code(code), Message: m.Properties[PropMessage], Details: m.Body}
	}
	if results == nil || len(m.Body) == 0 {
		return nil
	}
	name := m.Properties[PropCodec]
	cd := o.codec
	if name != "" && name != cd.Name() {
		return Errorf(Internal, "reply is encoded with codec %q, the call used %q", name, cd.Name())
	}
	// The reply's body is read by nothing else: results may share it.
	unmarshal := cd.Unmarshal
	if sc, ok := cd.(codec.SharingCodec); ok {
		unmarshal = sc.UnmarshalShared
	}
	if err := unmarshal(m.Body, results); err != nil {
		return Errorf(Internal, "decode results: %v", err)
	}
	return nil
}

// sendError maps a transport's send failure to a status: the caller's own
// cancellation stays Canceled or DeadlineExceeded, anything else means the
// transport could not carry the call.
func sendError(ctx context.Context, err error) error {
	if e, ok := err.(*Error); ok {
		return e
	}
	if ctx.Err() != nil {
		return fromContextError(ctx.Err())
	}
	return wrapError(Unavailable, err)
}

// callDeadline is when a call must end: the earlier of ctx's deadline and the
// call's timeout, or DefaultTimeout from now when neither is set.
func callDeadline(ctx context.Context, timeout time.Duration, now time.Time) time.Time {
	d, ok := ctx.Deadline()
	switch {
	case timeout > 0:
		if t := now.Add(timeout); !ok || t.Before(d) {
			return t
		}
		return d
	case ok:
		return d
	}
	return now.Add(DefaultTimeout)
}
