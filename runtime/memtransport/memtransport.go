// Package memtransport is an in-process mqrpc transport that behaves like a
// message queue: requests are stored per topic, each consumer group reads
// them from its own offset, a request sent before any server subscribes is
// delivered when one does, and a handler that returns an error gets its
// message delivered again. It is the transport of the examples and tests,
// and the reference for what runtime/transporttest expects.
package memtransport

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/mqrpc/mqrpc/runtime"
)

// Property names this transport puts on requests, as RocketMQ does.
const propReplyTo = "REPLY_TO_CLIENT"

// DefaultRetention bounds how many messages a topic keeps for consumer
// groups that have not read them yet.
const DefaultRetention = 1 << 20

// DefaultConsumers bounds how many handler calls one subscription runs at
// once, as a RocketMQ push consumer's goroutine pool does.
const DefaultConsumers = 64

// Broker holds the topics that its transports share. The zero value is not
// usable; call NewBroker.
type Broker struct {
	mu      sync.Mutex
	topics  map[string]*topic
	clients map[string]*Transport // by reply-to id
	nextID  int
}

// NewBroker returns an empty broker.
func NewBroker() *Broker {
	return &Broker{topics: make(map[string]*topic), clients: make(map[string]*Transport)}
}

// New returns a transport on a broker of its own, for a client and server
// in one process.
func New() *Transport { return NewBroker().NewTransport() }

// NewTransport returns a transport connected to b.
func (b *Broker) NewTransport() *Transport {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.nextID++
	t := &Transport{broker: b, id: "mem-" + strconv.Itoa(b.nextID)}
	b.clients[t.id] = t
	return t
}

type topic struct {
	log    []*runtime.Message // log[i] has offset base+i
	base   int64
	groups map[string]*group
}

func (tp *topic) end() int64 { return tp.base + int64(len(tp.log)) }

// trim drops messages every group has read, and the oldest beyond the
// retention bound.
func (tp *topic) trim() {
	low := tp.end()
	if len(tp.groups) == 0 {
		low = tp.base
	}
	for _, g := range tp.groups {
		low = min(low, g.next)
	}
	low = max(low, tp.end()-DefaultRetention)
	if n := low - tp.base; n > 0 {
		clear(tp.log[:n])
		tp.log = tp.log[n:]
		tp.base = low
		for _, g := range tp.groups {
			g.next = max(g.next, low)
		}
	}
}

type group struct {
	topic *topic
	next  int64              // offset of the next message to deliver
	retry []*runtime.Message // handed back by a handler; delivered first
	subs  []*subscription
	rr    int
	wake  chan struct{} // signalled when there is something to deliver
	done  chan struct{} // closed when the dispatcher exits; nil when none runs
}

func (g *group) signal() {
	select {
	case g.wake <- struct{}{}:
	default:
	}
}

// take returns the next message to deliver and the subscription to hand it
// to, or nil when there is none.
func (g *group) take() (*runtime.Message, *subscription) {
	if len(g.subs) == 0 {
		return nil, nil
	}
	var m *runtime.Message
	switch {
	case len(g.retry) > 0:
		m, g.retry = g.retry[0], g.retry[1:]
	case g.next < g.topic.end():
		m = g.topic.log[g.next-g.topic.base]
		g.next++
		g.topic.trim()
	default:
		return nil, nil
	}
	g.rr++
	return m, g.subs[g.rr%len(g.subs)]
}

// Transport is one client's or server's connection to a Broker.
type Transport struct {
	broker *Broker
	id     string

	mu      sync.Mutex
	replies func(*runtime.Message)
	subs    []*subscription
	closed  bool
}

var _ runtime.Transport = (*Transport)(nil)

func (t *Transport) ListenReplies(h func(*runtime.Message)) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return runtime.ErrClosed
	}
	t.replies = h
	return nil
}

func (t *Transport) Request(ctx context.Context, msg *runtime.Message) error {
	m := stamped(msg)
	m.Properties[propReplyTo] = t.id
	return t.publish(ctx, m)
}

func (t *Transport) Send(ctx context.Context, msg *runtime.Message) error {
	return t.publish(ctx, stamped(msg))
}

func (t *Transport) publish(ctx context.Context, m *runtime.Message) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if t.isClosed() {
		return runtime.ErrClosed
	}
	if m.Topic == "" {
		return errors.New("memtransport: message has no topic")
	}
	b := t.broker
	b.mu.Lock()
	defer b.mu.Unlock()
	tp := b.topic(m.Topic)
	tp.log = append(tp.log, m)
	tp.trim()
	for _, g := range tp.groups {
		g.signal()
	}
	return nil
}

func (b *Broker) topic(name string) *topic {
	tp := b.topics[name]
	if tp == nil {
		tp = &topic{groups: make(map[string]*group)}
		b.topics[name] = tp
	}
	return tp
}

func (t *Transport) Reply(ctx context.Context, request, reply *runtime.Message) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if t.isClosed() {
		return runtime.ErrClosed
	}
	to, ok := request.Properties[propReplyTo]
	if !ok {
		return errors.New("memtransport: request has no reply-to client")
	}
	b := t.broker
	b.mu.Lock()
	dst := b.clients[to]
	b.mu.Unlock()
	if dst == nil {
		return errors.New("memtransport: reply-to client " + to + " is gone")
	}
	dst.mu.Lock()
	h := dst.replies
	dst.mu.Unlock()
	if h == nil {
		return errors.New("memtransport: client " + to + " does not listen for replies")
	}
	m := stamped(reply)
	m.Properties[runtime.PropCorrelationID] = request.Properties[runtime.PropCorrelationID]
	h(m)
	return nil
}

func (t *Transport) Subscribe(topicName, groupName string, h runtime.Handler) (runtime.Subscription, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil, runtime.ErrClosed
	}
	b := t.broker
	b.mu.Lock()
	defer b.mu.Unlock()
	tp := b.topic(topicName)
	g := tp.groups[groupName]
	if g == nil {
		// A new group starts at the oldest stored message, so requests
		// sent before the first server are served.
		g = &group{topic: tp, next: tp.base, wake: make(chan struct{}, 1)}
		tp.groups[groupName] = g
	}
	s := &subscription{t: t, g: g, h: h, slots: make(chan struct{}, DefaultConsumers), stop: make(chan struct{})}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	g.subs = append(g.subs, s)
	if g.done == nil {
		g.done = make(chan struct{})
		go b.dispatch(g, g.done)
	}
	g.signal()
	t.subs = append(t.subs, s)
	return s, nil
}

// dispatch hands the group's messages to its subscriptions until it has
// none left.
func (b *Broker) dispatch(g *group, done chan struct{}) {
	defer close(done)
	for {
		b.mu.Lock()
		if len(g.subs) == 0 {
			g.done = nil
			b.mu.Unlock()
			return
		}
		m, s := g.take()
		if m != nil {
			s.inflight.Add(1)
		}
		b.mu.Unlock()
		if m == nil {
			<-g.wake
			continue
		}
		select {
		case s.slots <- struct{}{}:
			go s.deliver(m)
		case <-s.stop:
			s.inflight.Done()
			b.requeue(g, m)
		}
	}
}

// requeue puts m back to be delivered again, first.
func (b *Broker) requeue(g *group, m *runtime.Message) {
	b.mu.Lock()
	g.retry = append(g.retry, m)
	b.mu.Unlock()
	g.signal()
}

func (t *Transport) Close() error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil
	}
	t.closed = true
	subs := t.subs
	t.subs = nil
	t.replies = nil
	t.mu.Unlock()

	var errs []error
	for _, s := range subs {
		errs = append(errs, s.Stop())
	}
	b := t.broker
	b.mu.Lock()
	delete(b.clients, t.id)
	b.mu.Unlock()
	return errors.Join(errs...)
}

func (t *Transport) isClosed() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.closed
}

type subscription struct {
	t        *Transport
	g        *group
	h        runtime.Handler
	ctx      context.Context
	cancel   context.CancelFunc
	slots    chan struct{}
	stop     chan struct{}
	stopOnce sync.Once
	inflight sync.WaitGroup
}

func (s *subscription) deliver(m *runtime.Message) {
	defer s.inflight.Done()
	defer func() { <-s.slots }()
	if err := s.h(s.ctx, m); err != nil {
		s.t.broker.requeue(s.g, m)
	}
}

// Stop removes the subscription from its group, waits for its handler
// calls in progress, and for the group's dispatcher when it was the last
// member.
func (s *subscription) Stop() error {
	s.stopOnce.Do(func() {
		b := s.t.broker
		b.mu.Lock()
		s.g.subs = slices.DeleteFunc(s.g.subs, func(x *subscription) bool { return x == s })
		done := s.g.done
		last := len(s.g.subs) == 0
		b.mu.Unlock()
		close(s.stop)
		s.g.signal()
		s.inflight.Wait()
		s.cancel()
		if last && done != nil {
			<-done
		}
	})
	return nil
}

// stamped returns a copy of m sent and stored now: this broker stores a
// message the moment it is sent.
func stamped(m *runtime.Message) *runtime.Message {
	c := clone(m)
	c.SentAt = time.Now()
	c.StoredAt = c.SentAt
	return c
}

// clone copies a message so that neither side sees the other's changes, as
// a real broker's copy would.
func clone(m *runtime.Message) *runtime.Message {
	c := *m
	c.Properties = maps.Clone(m.Properties)
	if c.Properties == nil {
		c.Properties = make(map[string]string)
	}
	c.Body = slices.Clone(m.Body)
	return &c
}
