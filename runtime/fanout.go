package runtime

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"sync"
	"time"
)

// Properties of fan-out calls. docs/PROTOCOL.md is the normative
// description.
const (
	// PropFanout marks the request of a fan-out call ("1"): every server
	// instance answers it, each with a reply of its own.
	PropFanout = "mqrpc-fanout"
	// PropInstance names, on the reply to a fan-out call, the server
	// instance that sent it (Server.InstanceID).
	PropInstance = "mqrpc-instance"
)

// Reply is one server instance's answer to a fan-out call: the value the
// method returned, or the error it failed with (a *Error, as a unary call's
// error is). Value is the zero value when Err is set.
type Reply[T any] struct {
	// Instance is the id of the server instance that answered
	// (Server.InstanceID); "" when the server did not say, as a peer in
	// another language may not.
	Instance string
	Value    T
	Err      error
	// Trailer is the reply's trailing metadata.
	Trailer Metadata
}

// WithExpect ends a fan-out call as soon as n servers have answered,
// without waiting for the others that are live. n must be at least 1, or
// the call fails with InvalidArgument. Unary calls ignore it.
func WithExpect(n int) CallOption {
	return func(o *callOptions) { o.expect, o.expectSet = n, true }
}

// FanoutTransport is a Transport that carries fan-out calls: every
// subscriber of a broadcast group gets every message, and the transport can
// tell how many subscribers a group has now.
type FanoutTransport interface {
	Transport

	// SubscribeBroadcast consumes topic as a member of group, like
	// Subscribe, except that every member of the group gets every
	// message stored after it subscribed; messages stored before are not
	// delivered. A message h returns an error for is not delivered again.
	SubscribeBroadcast(topic, group string, h MessageHandler) (Subscription, error)

	// Members returns how many members the broadcast group of topic has
	// now, as the broker knows them.
	Members(ctx context.Context, topic, group string) (int, error)
}

// fanoutTopicSuffix ends the name of a service's fan-out topic.
const fanoutTopicSuffix = "_fanout"

// FanoutTopicFor returns the topic that carries the fan-out calls to the
// service whose request topic is topic: topic with "_fanout" appended, cut
// and hashed as OrderedTopicFor does when that is too long.
func FanoutTopicFor(topic string) string {
	if len(topic)+len(fanoutTopicSuffix) <= maxTopicLen {
		return topic + fanoutTopicSuffix
	}
	sum := sha256.Sum256([]byte(topic))
	h := hex.EncodeToString(sum[:8])
	return topic[:maxTopicLen-len(fanoutTopicSuffix)-len(h)-1] + "_" + h + fanoutTopicSuffix
}

// WithFanoutCalls has the server answer fan-out calls (Fanout) too: it
// consumes the fan-out topic of each of its services (FanoutTopicFor) as a
// member of a broadcast group, besides the service topic. Without it, the
// server does not see fan-out calls. The transport must be a
// FanoutTransport, or Start fails.
//
// It is an option because broadcast consumption costs every server that
// does it: on RocketMQ, a second topic and consumer per service, which
// polls the topic's queues on every broker.
func WithFanoutCalls() ServerOption {
	return serverOptionFunc(func(o *serverOptions) { o.fanout = true })
}

// WithInstanceID names the server instance in the replies to fan-out
// calls. The default is the transport's client id when it has one (the
// RocketMQ transport's, which `mqrpc list -v` shows among a service's
// instances), or else the host name, the process id and a random suffix,
// which differs for every Server.
func WithInstanceID(id string) ServerOption {
	return serverOptionFunc(func(o *serverOptions) { o.instance = id })
}

// InstanceID returns the id that names this server in the replies to
// fan-out calls. It does not change while the server lives.
func (s *Server) InstanceID() string { return s.instance }

// instanceID returns the id of a server given id by WithInstanceID on t.
func instanceID(id string, t Transport) string {
	if id != "" {
		return id
	}
	if c, ok := t.(interface{ ClientID() string }); ok {
		if id := c.ClientID(); id != "" {
			return id
		}
	}
	return newInstanceID()
}

// newInstanceID returns host-pid-random: readable for operators, distinct
// for every Server even in one process.
func newInstanceID() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "host"
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s-%d-%s", sanitizeProperty(host), os.Getpid(), hex.EncodeToString(b[:]))
}

// subscribeFanout subscribes the server to the fan-out topic of topic, when
// it answers fan-out calls; it returns nil otherwise.
func (s *Server) subscribeFanout(topic string) (Subscription, error) {
	if !s.opts.fanout {
		return nil, nil
	}
	ft, ok := s.transport.(FanoutTransport)
	if !ok {
		return nil, fmt.Errorf("serve fan-out calls: transport %T does not carry them", s.transport)
	}
	fanout := FanoutTopicFor(topic)
	sub, err := ft.SubscribeBroadcast(fanout, GroupFor(fanout), s.handle)
	if err != nil {
		return nil, fmt.Errorf("subscribe %s: %w", fanout, err)
	}
	return sub, nil
}

// fanoutCall is the client's state of one fan-out call: the replies that
// have come and not been taken yet.
type fanoutCall struct {
	mu      sync.Mutex
	replies []*Message
	wake    chan struct{} // signalled when a reply is added
	closed  chan struct{} // closed by Client.Close
}

// add keeps a reply for the call; it never blocks.
func (f *fanoutCall) add(m *Message) {
	f.mu.Lock()
	f.replies = append(f.replies, m)
	f.mu.Unlock()
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

func (f *fanoutCall) take() []*Message {
	f.mu.Lock()
	defer f.mu.Unlock()
	r := f.replies
	f.replies = nil
	return r
}

// Fanout makes a fan-out call of method: every server instance of the
// service that is live when it is sent (started WithFanoutCalls) runs it
// and answers. Generated fan-out clients call it; R is the generated
// result type that a reply decodes into, and value turns it into the
// value a Reply carries.
//
// The call ends at the first of: every server instance that was a member
// of the service's broadcast group when the call was sent has answered (as
// the transport's Members reports; when it cannot tell, this condition is
// left out); n have answered, with WithExpect(n); the call's deadline; ctx
// is done. It returns the replies that came by then, in the order they
// came, one per instance. It returns an error only when none came: the
// deadline's DeadlineExceeded, ctx's Canceled, Unavailable when the
// service has no live server. Replies that come after the call ended are
// dropped and counted in ClientStats.DroppedReplies.
//
// A fan-out call must not be ordered (WithOrderKey) and its method must
// not be one-way: the call fails with InvalidArgument before anything is
// sent, or, for a one-way method the client cannot tell, gets no reply.
// Client interceptors do not run for fan-out calls; server interceptors
// do, on each server.
func Fanout[R, T any](ctx context.Context, c *Client, method string, args any, value func(*R) T, opts ...CallOption) ([]Reply[T], error) {
	cc := c.newCall(method, opts)
	msgs, err := c.fanout(ctx, cc, method, args)
	if err != nil {
		return nil, err
	}
	out := make([]Reply[T], len(msgs))
	o := cc.opts
	o.trailer = nil // each reply has a trailer of its own
	for i, m := range msgs {
		r := &out[i]
		r.Instance = m.Properties[PropInstance]
		r.Trailer = takeMetadata(m.Properties, TrailerPrefix)
		res := new(R)
		if r.Err = c.decodeReply(m, res, &o); r.Err == nil {
			r.Value = value(res)
		}
	}
	return out, nil
}

// fanout sends the request of the fan-out call cc and gathers its replies
// until the call ends.
func (c *Client) fanout(ctx context.Context, cc *clientCall, method string, args any) ([]*Message, error) {
	o := &cc.opts
	switch {
	case o.expectSet && o.expect < 1:
		return nil, Errorf(InvalidArgument, "fan-out call to %s: WithExpect(%d), want at least 1 reply", method, o.expect)
	case o.orderKey != "":
		return nil, Errorf(InvalidArgument, "fan-out call to %s cannot be ordered (WithOrderKey %q): every server runs it", method, o.orderKey)
	}
	ft, ok := c.transport.(FanoutTransport)
	if !ok {
		return nil, Errorf(Unimplemented, "fan-out call to %s: transport %T does not carry fan-out calls", method, c.transport)
	}
	deadline, now, err := c.newRequest(ctx, cc, method, args)
	if err != nil {
		return nil, err
	}
	msg := &cc.req
	msg.Topic = FanoutTopicFor(msg.Topic)
	msg.Properties[PropFanout] = "1"
	id := msg.Key
	fc := &fanoutCall{wake: make(chan struct{}, 1), closed: make(chan struct{})}
	if err := c.addFanout(id, fc); err != nil {
		return nil, err
	}
	defer c.removeFanout(id, fc)

	// The members are asked while the request is sent: a server that joins
	// in between may answer or not, and either is fine.
	mctx, cancel := context.WithDeadline(ctx, deadline)
	members := make(chan int, 1)
	var asked sync.WaitGroup
	asked.Add(1)
	go func() {
		defer asked.Done()
		n, err := ft.Members(mctx, msg.Topic, GroupFor(msg.Topic))
		if err != nil {
			c.opts.logger.Debug("mqrpc: fan-out call cannot tell the live servers; it waits for its deadline", "method", method, "err", err)
			n = -1
		}
		members <- n
	}()
	defer asked.Wait()
	defer cancel()

	cc.rec.sent(msg, now)
	if err := c.transport.Request(ctx, msg); err != nil {
		return nil, sendError(ctx, err)
	}
	timer := newTimer(time.Until(deadline))
	defer releaseTimer(timer)
	var got []*Message
	seen := make(map[string]bool)
	live := -1
	for {
		for _, m := range fc.take() {
			if o.expectSet && len(got) >= o.expect {
				c.dropped.Add(1) // came with others, past the count asked for
				continue
			}
			// A transport may deliver a request to an instance twice; its
			// second answer is a duplicate, as for a unary call.
			if inst := m.Properties[PropInstance]; inst != "" {
				if seen[inst] {
					c.dropped.Add(1)
					continue
				}
				seen[inst] = true
			}
			got = append(got, m)
		}
		switch {
		case o.expectSet && len(got) >= o.expect:
			return got, nil
		case live == 0:
			return nil, Errorf(Unavailable, "fan-out call to %s: no server of the service is live", method)
		case live > 0 && len(got) >= live:
			return got, nil
		}
		select {
		case <-fc.wake:
		case live = <-members:
			members = nil
		case <-ctx.Done():
			if len(got) > 0 {
				return got, nil
			}
			return nil, fromContextError(ctx.Err())
		case <-fc.closed:
			if len(got) > 0 {
				return got, nil
			}
			return nil, NewError(Canceled, "client closed")
		case <-timer.C:
			if len(got) > 0 {
				return got, nil
			}
			return nil, Errorf(DeadlineExceeded, "no server answered the fan-out call to %s by its deadline", method)
		}
	}
}

func (c *Client) addFanout(id string, fc *fanoutCall) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return wrapError(Unavailable, ErrClosed)
	}
	if len(c.pending)+len(c.fanouts) >= c.opts.maxPending {
		return Errorf(ResourceExhausted, "%d calls already pending", len(c.pending)+len(c.fanouts))
	}
	if c.fanouts == nil {
		c.fanouts = make(map[string]*fanoutCall)
	}
	c.fanouts[id] = fc
	return nil
}

// removeFanout ends the fan-out call fc: replies that came and were not
// taken, and any that come later, are dropped and counted.
func (c *Client) removeFanout(id string, fc *fanoutCall) {
	c.mu.Lock()
	delete(c.fanouts, id)
	c.mu.Unlock()
	// onFanoutReply adds under c.mu: nothing is added to fc any more.
	if n := len(fc.take()); n > 0 {
		c.dropped.Add(uint64(n))
	}
}

// onFanoutReply hands a reply that found no unary call to the fan-out call
// it answers, and reports whether there was one. c.mu is held.
func (c *Client) onFanoutReply(id string, m *Message) bool {
	fc, ok := c.fanouts[id]
	if ok {
		fc.add(m)
	}
	return ok
}
