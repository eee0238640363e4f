// Package memtransport is an in-process mqrpc transport that behaves like a
// message queue: requests are stored per topic, each consumer group reads
// them from its own offset, a request sent before any server subscribes is
// delivered when one does, and a handler that returns an error gets its
// message delivered again, up to a bound, after which (or at once, when the
// handler returns runtime.ErrDeadLetter) the message goes to the group's
// dead-letter list, as in RocketMQ's dead-letter queue. It is the transport
// of the examples and tests, and the reference for what
// runtime/transporttest expects.
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

// DefaultRetention bounds how many messages a topic keeps for consumer
// groups that have not read them yet.
const DefaultRetention = 1 << 20

// DefaultConsumers bounds how many handler calls one subscription runs at
// once, as a RocketMQ push consumer's goroutine pool does.
const DefaultConsumers = 64

// DefaultMaxRedeliveries bounds how many times a message a handler hands
// back is delivered again before it goes to its group's dead-letter list.
// It is RocketMQ's default; the RocketMQ transport of mqrpc sets a smaller
// one for its groups (rocketmq.Config.MaxRedeliveries). It is larger here
// because this broker delivers a handed-back message again at once, not
// after a delay, so a server that is stopping can hand it back several
// times in a moment.
const DefaultMaxRedeliveries = 16

// Broker holds the topics that its transports share. The zero value is not
// usable; call NewBroker.
type Broker struct {
	mu              sync.Mutex
	topics          map[string]*topic
	nextID          int
	maxRedeliveries int
	dead            map[string][]*runtime.Message // dead letters by group
}

// BrokerOption configures a Broker.
type BrokerOption func(*Broker)

// WithMaxRedeliveries sets how many times a message a handler hands back
// (returns an error for) is delivered again; when it fails once more it
// goes to the group's dead-letter list. Default DefaultMaxRedeliveries.
func WithMaxRedeliveries(n int) BrokerOption {
	return func(b *Broker) { b.maxRedeliveries = n }
}

// NewBroker returns an empty broker.
func NewBroker(opts ...BrokerOption) *Broker {
	b := &Broker{topics: make(map[string]*topic), maxRedeliveries: DefaultMaxRedeliveries, dead: make(map[string][]*runtime.Message)}
	for _, o := range opts {
		o(b)
	}
	return b
}

// DeadLetters returns the messages of group that were dead-lettered: handed
// back by its handlers more than the broker's max redeliveries, or refused
// with runtime.ErrDeadLetter. They are never delivered again. Each is the
// message as last delivered (its Attempt is its last delivery). At most
// DefaultRetention are kept per group, the oldest dropped first.
func (b *Broker) DeadLetters(group string) []*runtime.Message {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.dead[group])
}

// deadLetter puts m into the dead-letter list of g.
func (b *Broker) deadLetter(g *group, m *runtime.Message) {
	b.mu.Lock()
	defer b.mu.Unlock()
	dl := append(b.dead[g.name], m)
	if n := len(dl) - DefaultRetention; n > 0 {
		dl = slices.Delete(dl, 0, n)
	}
	b.dead[g.name] = dl
}

// redeliver queues m, which a handler handed back, to be delivered again
// as its next attempt, or dead-letters it when it was delivered again the
// most times already.
func (b *Broker) redeliver(g *group, m *runtime.Message) {
	if m.Attempt > b.maxRedeliveries {
		b.deadLetter(g, m)
		return
	}
	// A copy: the message delivered before may be in a handler's hands
	// still, and a topic's stored message is shared by its groups.
	c := *m
	c.Attempt++
	b.requeue(g, &c)
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
		if n == int64(len(tp.log)) {
			tp.log = tp.log[:0] // keep the array: the usual case, everything read
		} else {
			tp.log = tp.log[n:]
		}
		tp.base = low
		for _, g := range tp.groups {
			g.next = max(g.next, low)
		}
	}
}

type group struct {
	name  string
	topic *topic
	next  int64              // offset of the next message to deliver
	retry []*runtime.Message // handed back by a handler; delivered first
	subs  []*subscription
	rr    int
	wake  chan struct{} // signalled when there is something to deliver
	done  chan struct{} // closed when the dispatcher exits; nil when none runs
	lanes *lanes        // the order keys of an ordered group (ordered.go); nil for others
	// broadcast is the broadcast group this group is one member's view
	// of (fanout.go); "" for others.
	broadcast string
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

// Request stores a copy of msg whose Origin is t, the transport its reply
// goes to.
func (t *Transport) Request(ctx context.Context, msg *runtime.Message) error {
	m := stamped(msg)
	m.Origin = t
	m.Attempt = 1
	return t.publish(ctx, m)
}

func (t *Transport) Send(ctx context.Context, msg *runtime.Message) error {
	m := stamped(msg)
	m.Attempt = 1
	return t.publish(ctx, m)
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
	dst, ok := request.Origin.(*Transport)
	if !ok {
		return errors.New("memtransport: request was not delivered by a memtransport, or expects no reply")
	}
	dst.mu.Lock()
	h, closed := dst.replies, dst.closed
	dst.mu.Unlock()
	switch {
	case closed:
		return errors.New("memtransport: reply-to client " + dst.id + " is gone")
	case h == nil:
		return errors.New("memtransport: client " + dst.id + " does not listen for replies")
	}
	m := stamped(reply)
	if id := request.Properties[runtime.PropCorrelationID]; m.Properties[runtime.PropCorrelationID] != id {
		m.Properties = maps.Clone(m.Properties)
		if m.Properties == nil {
			m.Properties = make(map[string]string, 1)
		}
		m.Properties[runtime.PropCorrelationID] = id
	}
	h(m)
	return nil
}

func (t *Transport) Subscribe(topicName, groupName string, h runtime.MessageHandler) (runtime.Subscription, error) {
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
		g = &group{name: groupName, topic: tp, next: tp.base, wake: make(chan struct{}, 1)}
		tp.groups[groupName] = g
	}
	s := &subscription{t: t, g: g, h: h, work: make(chan *runtime.Message), stop: make(chan struct{})}
	b.join(t, s, b.dispatch)
	return s, nil
}

// join adds s to its group, starting the group's dispatcher when s is the
// group's only subscription, and to t's subscriptions. b.mu is held.
func (b *Broker) join(t *Transport, s *subscription, dispatch func(*group, chan struct{})) {
	s.ctx, s.cancel = context.WithCancel(context.Background())
	g := s.g
	g.subs = append(g.subs, s)
	if g.done == nil {
		g.done = make(chan struct{})
		go dispatch(g, g.done)
	}
	g.signal()
	t.subs = append(t.subs, s)
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
		if !s.hand(m) {
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

// System is "memtransport": no broker of OpenTelemetry's messaging.system
// list stands behind it.
func (t *Transport) System() string { return "memtransport" }

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
	h        runtime.MessageHandler
	ctx      context.Context
	cancel   context.CancelFunc
	stop     chan struct{}
	stopOnce sync.Once
	inflight sync.WaitGroup // messages taken for the subscription and not yet handled

	// Up to DefaultConsumers workers run the handler, each taking
	// messages from work; they are started as the load needs them and
	// end when the subscription stops. nworkers is the dispatcher's.
	work     chan *runtime.Message
	nworkers int
	workers  sync.WaitGroup
}

// hand gives m to an idle worker, or to a new one while fewer than
// DefaultConsumers run, or else waits for a worker to be free. It reports
// false, not having handed m over, when the subscription stops first.
func (s *subscription) hand(m *runtime.Message) bool {
	select {
	case s.work <- m:
		return true
	default:
	}
	if s.nworkers < DefaultConsumers {
		s.nworkers++
		s.workers.Add(1)
		go s.worker(m)
		return true
	}
	select {
	case s.work <- m:
		return true
	case <-s.stop:
		return false
	}
}

// worker handles m, then every message handed to it until the
// subscription stops.
func (s *subscription) worker(m *runtime.Message) {
	defer s.workers.Done()
	for {
		s.deliver(m)
		select {
		case m = <-s.work:
		case <-s.stop:
			return
		}
	}
}

func (s *subscription) deliver(m *runtime.Message) {
	defer s.inflight.Done()
	switch err := s.h(s.ctx, m); {
	case err == nil:
	case errors.Is(err, runtime.ErrDeadLetter):
		s.t.broker.deadLetter(s.g, m)
	default:
		s.t.broker.redeliver(s.g, m)
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
		if last && s.g.broadcast != "" {
			// A member's own group goes with it, so that the topic
			// keeps no messages for it.
			delete(s.g.topic.groups, s.g.name)
			s.g.topic.trim()
		}
		b.mu.Unlock()
		close(s.stop)
		s.g.signal()
		// Every message taken for s is handled or requeued, and so handed
		// to no worker any more: the workers can all be waited for.
		s.inflight.Wait()
		s.workers.Wait()
		s.cancel()
		if last && done != nil {
			<-done
		}
	})
	return nil
}

// stamped returns a copy of m sent and stored now: this broker stores a
// message the moment it is sent. The copy shares m's properties and body,
// which neither side may change once m is handed to a transport.
func stamped(m *runtime.Message) *runtime.Message {
	c := *m
	c.Origin = nil
	c.SentAt = time.Now()
	c.StoredAt = c.SentAt
	return &c
}
