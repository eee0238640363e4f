package rocketmq

import (
	"cmp"
	"context"
	"errors"
	"math"
	"slices"

	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"

	"github.com/mqrpc/mqrpc/runtime"
)

var _ runtime.OrderedTransport = (*Transport)(nil)

// SubscribeOrdered consumes topic, like Subscribe, with an orderly push
// consumer: the brokers lock each queue of topic to one member of group,
// and the member hands h the queue's messages one at a time, in the order
// they were stored. Ordered calls of one key all go to one queue (see
// orderSelector), so they run one at a time, in order; the queues run in
// parallel, so a topic has as many lanes as it has queues (Config.TopicQueues
// on each broker).
//
// A queue changes hands when a member joins or leaves the group: a member
// that stops releases its queues' locks once its handlers have returned,
// and one that died holds them until the broker lets them expire (60 s by
// default, the broker's rocketmq.broker.rebalance.lockMaxLiveTime), so the
// calls of its queues wait until then and are not run by two members at
// once. Requests a dead member ran but had not acknowledged are delivered
// again, in their order; a shared runtime.DedupStore keeps them from running
// twice.
func (t *Transport) SubscribeOrdered(topic, group string, h runtime.MessageHandler) (runtime.Subscription, error) {
	return t.subscribe(topic, group, h, ordered)
}

func orderedConsumerOptions() []consumer.Option {
	return []consumer.Option{consumer.WithConsumerOrder(true)}
}

// Suspend times for a queue whose message a handler handed back: the
// message is handed over again after them, before any later one of its
// queue. A server that is stopping hands back what it is given; it hands
// its queues to another member as soon as it has stopped, so its own retry
// comes soon. Another failure waits as the broker's first redelivery level
// does.
const (
	suspendWhileStopping = 100
	suspendAfterFailure  = 1000
)

// consumeOrderly is consume for an orderly consumer, which acknowledges,
// retries and dead-letters differently: it has no retry topic, and a
// message handed back is kept at the head of its queue.
func (s *subscription) consumeOrderly(ctx context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
	oc, _ := primitive.GetOrderlyCtx(ctx)
	s.mu.Lock()
	if s.stopping {
		s.mu.Unlock()
		return suspend(oc, suspendWhileStopping, msgs), nil
	}
	s.inflight.Add(1)
	s.mu.Unlock()
	defer s.inflight.Done()
	for _, m := range msgs {
		msg := s.requestOf(m)
		switch err := s.h(ctx, msg); {
		case errors.Is(err, runtime.ErrDeadLetter):
			// Past its max reconsume times, the library sends a message
			// to the group's dead-letter queue and moves on.
			m.ReconsumeTimes = math.MaxInt32
			return suspend(oc, suspendAfterFailure, nil), nil
		case err != nil:
			if s.isStopping() {
				return suspend(oc, suspendWhileStopping, msgs), nil
			}
			return suspend(oc, suspendAfterFailure, nil), nil
		}
	}
	return consumer.ConsumeSuccess, nil
}

// suspend keeps the messages at the head of their queue, to be handed over
// again after ms milliseconds (the library's default is not to wait at
// all). The library counts each suspension as a redelivery, and
// dead-letters a message suspended more than Config.MaxRedeliveries
// times; msgs are those not to count, handed back only because their
// server is stopping.
func suspend(oc *primitive.ConsumeOrderlyContext, ms int, msgs []*primitive.MessageExt) consumer.ConsumeResult {
	if oc != nil {
		oc.SuspendCurrentQueueTimeMillis = ms
	}
	for _, m := range msgs {
		m.ReconsumeTimes--
	}
	return consumer.SuspendCurrentQueueAMoment
}

func (s *subscription) isStopping() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stopping
}

// orderSelector sends a message that carries an order key to the queue the
// key hashes to (runtime.OrderQueue) among the queues of its topic, sorted
// by broker name and queue id, as rocketmq-client-go's hash selector and a
// Java MessageQueueSelector over the sorted queues do; every other message
// goes to next's choice. Retries of a send go to the same queue, even
// when its broker failed: another queue could let a later call of the key
// overtake this one.
type orderSelector struct {
	next producer.QueueSelector
}

func (s orderSelector) Select(m *primitive.Message, mqs []*primitive.MessageQueue, last string) *primitive.MessageQueue {
	key := m.GetProperty(runtime.PropOrderKey)
	if key == "" || len(mqs) == 0 {
		return s.next.Select(m, mqs, last)
	}
	sorted := slices.Clone(mqs)
	slices.SortFunc(sorted, func(a, b *primitive.MessageQueue) int {
		return cmp.Or(cmp.Compare(a.BrokerName, b.BrokerName), cmp.Compare(a.QueueId, b.QueueId))
	})
	return sorted[runtime.OrderQueue(key, len(sorted))]
}
