package memtransport

import (
	"errors"

	"github.com/mqrpc/mqrpc/runtime"
)

var _ runtime.OrderedTransport = (*Transport)(nil)

// lanes are the messages of an ordered group by order key. Each key's
// messages wait in its lane, in the order they were stored, and one
// subscription at a time works through a lane, one message at a time.
type lanes struct {
	byKey map[string]*lane
	idle  []*lane // lanes with messages that no subscription works on
}

type lane struct {
	key  string
	msgs []*runtime.Message // msgs[0] is the next to handle
	busy bool               // a subscription works on the lane
}

// SubscribeOrdered consumes topic as a member of group, handing h the
// messages of one order key one at a time, in the order they were stored;
// see runtime.OrderedTransport. A message h hands back (returns an error
// for) is handed over again, as its next attempt, before any later message
// of its key; past the broker's max redeliveries it goes to the group's
// dead-letter list, as a message of an unordered group does. Messages of
// different keys are handled in parallel, each key's by one of the group's
// subscriptions at a time.
func (t *Transport) SubscribeOrdered(topicName, groupName string, h runtime.MessageHandler) (runtime.Subscription, error) {
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
		g = &group{name: groupName, topic: tp, next: tp.base, wake: make(chan struct{}, 1), lanes: &lanes{byKey: make(map[string]*lane)}}
		tp.groups[groupName] = g
	}
	if g.lanes == nil {
		return nil, errors.New("memtransport: group " + groupName + " of topic " + topicName + " is not ordered")
	}
	s := &subscription{t: t, g: g, h: h, stop: make(chan struct{})}
	b.join(t, s, b.dispatchOrdered)
	return s, nil
}

// dispatchOrdered moves the group's new messages into their lanes and
// starts a subscription on every lane that has messages and nobody working
// on it, until the group has no subscription left.
func (b *Broker) dispatchOrdered(g *group, done chan struct{}) {
	defer close(done)
	for {
		b.mu.Lock()
		if len(g.subs) == 0 {
			g.done = nil
			b.mu.Unlock()
			return
		}
		ls := g.lanes
		for g.next < g.topic.end() {
			m := g.topic.log[g.next-g.topic.base]
			g.next++
			l := ls.byKey[m.OrderKey]
			if l == nil {
				l = &lane{key: m.OrderKey}
				ls.byKey[m.OrderKey] = l
			}
			l.msgs = append(l.msgs, m)
			if !l.busy && len(l.msgs) == 1 {
				ls.idle = append(ls.idle, l)
			}
		}
		g.topic.trim()
		for _, l := range ls.idle {
			g.rr++
			s := g.subs[g.rr%len(g.subs)]
			l.busy = true
			s.inflight.Add(1)
			go s.workLane(l)
		}
		ls.idle = ls.idle[:0]
		b.mu.Unlock()
		<-g.wake
	}
}

// workLane handles the messages of l, one at a time, until l is empty or s
// stops; then it leaves l to the dispatcher.
func (s *subscription) workLane(l *lane) {
	defer s.inflight.Done()
	b, g := s.t.broker, s.g
	for {
		b.mu.Lock()
		stopped := false
		select {
		case <-s.stop:
			stopped = true
		default:
		}
		if len(l.msgs) == 0 || stopped {
			l.busy = false
			if len(l.msgs) == 0 {
				delete(g.lanes.byKey, l.key)
			} else {
				g.lanes.idle = append(g.lanes.idle, l)
			}
			b.mu.Unlock()
			g.signal()
			return
		}
		m := l.msgs[0]
		b.mu.Unlock()

		err := s.h(s.ctx, m)
		var dead bool
		b.mu.Lock()
		switch {
		case err == nil:
			l.msgs = l.msgs[1:]
		case errors.Is(err, runtime.ErrDeadLetter) || m.Attempt > b.maxRedeliveries:
			l.msgs = l.msgs[1:]
			dead = true
		default:
			// A copy: m may be in the handler's hands still.
			c := *m
			c.Attempt++
			l.msgs[0] = &c
		}
		b.mu.Unlock()
		if dead {
			b.deadLetter(g, m)
		}
	}
}
