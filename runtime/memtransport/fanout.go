package memtransport

import (
	"context"
	"strconv"

	"github.com/mqrpc/mqrpc/runtime"
)

var _ runtime.FanoutTransport = (*Transport)(nil)

// SubscribeBroadcast consumes topic so that this subscription gets every
// message stored after it subscribed, whatever the other members of group
// get, as a RocketMQ broadcasting consumer does; see
// runtime.FanoutTransport. Each member reads the topic through a consumer
// group of its own, which goes when the member stops. A message h hands
// back is delivered again, as on any group; the runtime's server hands one
// back only when it is stopping, and then the group is going.
func (t *Transport) SubscribeBroadcast(topicName, groupName string, h runtime.MessageHandler) (runtime.Subscription, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil, runtime.ErrClosed
	}
	b := t.broker
	b.mu.Lock()
	defer b.mu.Unlock()
	tp := b.topic(topicName)
	b.nextID++
	// The name cannot clash with a group a user names: it ends in a
	// character no topic or group name may hold.
	name := groupName + "/" + strconv.Itoa(b.nextID) + "\x00"
	g := &group{name: name, topic: tp, next: tp.end(), wake: make(chan struct{}, 1), broadcast: groupName}
	tp.groups[name] = g
	s := &subscription{t: t, g: g, h: h, work: make(chan *runtime.Message), stop: make(chan struct{})}
	b.join(t, s, b.dispatch)
	return s, nil
}

// Members returns how many subscriptions the broadcast group of topic has.
func (t *Transport) Members(ctx context.Context, topicName, groupName string) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if t.isClosed() {
		return 0, runtime.ErrClosed
	}
	b := t.broker
	b.mu.Lock()
	defer b.mu.Unlock()
	tp := b.topics[topicName]
	if tp == nil {
		return 0, nil
	}
	n := 0
	for _, g := range tp.groups {
		if g.broadcast == groupName && len(g.subs) > 0 {
			n++
		}
	}
	return n, nil
}
