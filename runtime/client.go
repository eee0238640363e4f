package runtime

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

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

	mu      sync.Mutex
	pending map[string]chan *Message // by call id; nil value never stored
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
	return c.invoke(c.withCall(ctx, method, opts), method, args, results)
}

// Send makes a one-way call: it returns once the transport has stored the
// request, and no reply ever comes.
func (c *Client) Send(ctx context.Context, method string, args any, opts ...CallOption) error {
	return c.send(c.withCall(ctx, method, opts), method, args, nil)
}

// withCall returns ctx carrying the call's resolved options and the record
// that CallInfoFromContext reads.
func (c *Client) withCall(ctx context.Context, method string, opts []CallOption) context.Context {
	return context.WithValue(ctx, callKey{}, &callRecord{opts: c.resolve(opts), info: CallInfo{Method: method}})
}

// callFrom returns the record Invoke or Send put on ctx; an interceptor that
// starts a new context loses it, and the call gets the client's default
// options and a record no interceptor sees.
func (c *Client) callFrom(ctx context.Context, method string) *callRecord {
	if r, ok := ctx.Value(callKey{}).(*callRecord); ok && r.opts != nil {
		return r
	}
	return &callRecord{opts: c.resolve(nil), info: CallInfo{Method: method}}
}

func (c *Client) resolve(opts []CallOption) *callOptions {
	o := &callOptions{codec: codec.Msgpack}
	for _, f := range c.opts.callDefaults {
		f(o)
	}
	for _, f := range opts {
		f(o)
	}
	return o
}

// DroppedReplies counts replies that found no waiting call: late ones after
// a timeout or cancel, and duplicates.
func (c *Client) DroppedReplies() uint64 { return c.dropped.Load() }

// Pending returns the number of calls waiting for a reply.
func (c *Client) Pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.pending)
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
	return nil
}

// call is the end of the interceptor chain for a call with a reply.
func (c *Client) call(ctx context.Context, method string, args, results any) error {
	rec := c.callFrom(ctx, method)
	o := rec.opts
	msg, deadline, err := c.newRequest(ctx, method, args, o)
	if err != nil {
		return err
	}
	id := msg.Key
	ch := make(chan *Message, 1)
	if err := c.addPending(id, ch); err != nil {
		return err
	}
	rec.sent(msg)
	if err := c.transport.Request(ctx, msg); err != nil {
		c.removePending(id)
		return sendError(ctx, err)
	}

	// The call ends at the first of: a reply, ctx done, or the deadline
	// that travels with the request (which may be earlier than ctx's).
	var expired <-chan time.Time
	if d, ok := ctx.Deadline(); !ok || deadline.Before(d) {
		timer := time.NewTimer(time.Until(deadline))
		defer timer.Stop()
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
		return fromContextError(ctx.Err())
	case <-expired:
		if !c.removePending(id) {
			reply, ok = <-ch
			break
		}
		return Errorf(DeadlineExceeded, "no reply to %s by its deadline", method)
	}
	if !ok {
		return NewError(Canceled, "client closed")
	}
	rec.update(func(ci *CallInfo) {
		ci.ReplySent, ci.ReplyStored, ci.ReplyReceived = reply.SentAt, reply.StoredAt, time.Now()
	})
	return c.decodeReply(reply, results, o)
}

// sendOneWay is the end of the interceptor chain for a one-way call.
func (c *Client) sendOneWay(ctx context.Context, method string, args, _ any) error {
	rec := c.callFrom(ctx, method)
	o := rec.opts
	msg, _, err := c.newRequest(ctx, method, args, o)
	if err != nil {
		return err
	}
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	if closed {
		return wrapError(Unavailable, ErrClosed)
	}
	rec.sent(msg)
	if err := c.transport.Send(ctx, msg); err != nil {
		return sendError(ctx, err)
	}
	return nil
}

// newRequest builds the request message and its absolute deadline.
func (c *Client) newRequest(ctx context.Context, method string, args any, o *callOptions) (*Message, time.Time, error) {
	if err := ctx.Err(); err != nil {
		return nil, time.Time{}, fromContextError(err)
	}
	tt, err := c.route(method, o)
	if err != nil {
		return nil, time.Time{}, err
	}
	deadline := callDeadline(ctx, o.timeout)
	body, err := o.codec.Marshal(args)
	if err != nil {
		return nil, time.Time{}, Errorf(Internal, "encode arguments of %s: %v", method, err)
	}
	if len(body) > c.opts.maxMessageSize {
		return nil, time.Time{}, Errorf(ResourceExhausted, "request to %s is %d bytes, over the limit of %d", method, len(body), c.opts.maxMessageSize)
	}
	md := OutgoingMetadata(ctx)
	if err := validMetadata(md); err != nil {
		return nil, time.Time{}, err
	}
	id := c.idPrefix + strconv.FormatUint(c.nextID.Add(1), 36)
	props := make(map[string]string, 5+len(md))
	props[PropCorrelationID] = id
	props[PropMethod] = method
	props[PropCodec] = o.codec.Name()
	props[PropVersion] = ProtocolVersion
	props[PropDeadline] = strconv.FormatInt(deadline.UnixMilli(), 10)
	putMetadata(props, MetadataPrefix, md)
	return &Message{Topic: tt.topic, Tag: tt.tag, Key: id, Properties: props, Body: body}, deadline, nil
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
// a call finds it; any other is counted as dropped.
func (c *Client) onReply(m *Message) {
	id := m.Properties[PropCorrelationID]
	c.mu.Lock()
	ch, ok := c.pending[id]
	if ok {
		delete(c.pending, id)
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
	if err := cd.Unmarshal(m.Body, results); err != nil {
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
func callDeadline(ctx context.Context, timeout time.Duration) time.Time {
	d, ok := ctx.Deadline()
	switch {
	case timeout > 0:
		if t := time.Now().Add(timeout); !ok || t.Before(d) {
			return t
		}
		return d
	case ok:
		return d
	}
	return time.Now().Add(DefaultTimeout)
}
