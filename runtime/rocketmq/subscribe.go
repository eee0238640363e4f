package rocketmq

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/apache/rocketmq-client-go/v2/admin"
	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"

	"github.com/mqrpc/mqrpc/runtime"
)

// Subscribe consumes topic with a push consumer in group. Unless
// Config.NoCreateTopics is set, it first creates the topic on every broker
// of the cluster, because the consumer refuses to start on a topic with no
// route.
//
// A group that has never consumed starts at the oldest stored message, so
// requests sent before the first server started are served (expired ones
// are skipped by the server).
func (t *Transport) Subscribe(topic, group string, h runtime.MessageHandler) (runtime.Subscription, error) {
	return t.subscribe(topic, group, h, plain)
}

// consumerKind is how a subscription consumes its topic.
type consumerKind int

const (
	plain     consumerKind = iota // clustering: one member of the group per message
	ordered                       // clustering, one message of a queue at a time
	broadcast                     // every member every message (fanout.go)
)

// subscribe is Subscribe, SubscribeOrdered or SubscribeBroadcast, as kind
// says.
func (t *Transport) subscribe(topic, group string, h runtime.MessageHandler, kind consumerKind) (runtime.Subscription, error) {
	if t.isClosed() {
		return nil, runtime.ErrClosed
	}
	if !t.cfg.NoCreateTopics {
		if err := t.CreateTopic(topic); err != nil {
			return nil, err
		}
		// A message the handler hands back goes to the group's retry
		// topic, which the broker would create only then; the consumer
		// would learn its route at its next refresh, 30 s later, and
		// redeliver nothing until then. Created now, it is routed when
		// the consumer starts.
		if err := t.createRetryTopic(group, kind); err != nil {
			return nil, err
		}
	}
	opts := []consumer.Option{
		consumer.WithGroupName(group),
		consumer.WithNsResolver(primitive.NewPassthroughResolver(t.cfg.NameServers)),
		// The consumer shares the producer's client, so the heartbeats it
		// sends also keep the producer known to the brokers.
		consumer.WithInstance(t.instance),
		consumer.WithConsumeFromWhere(consumer.ConsumeFromFirstOffset),
		consumer.WithConsumeGoroutineNums(t.cfg.ConsumeGoroutines),
		consumer.WithConsumeMessageBatchMaxSize(1),
		consumer.WithMaxReconsumeTimes(int32(t.cfg.MaxRedeliveries)),
	}
	if t.cfg.AccessKey != "" {
		opts = append(opts, consumer.WithCredentials(t.credentials()))
	}
	switch kind {
	case ordered:
		opts = append(opts, orderedConsumerOptions()...)
	case broadcast:
		opts = append(opts, broadcastConsumerOptions()...)
	}
	c, err := consumer.NewPushConsumer(opts...)
	if err != nil {
		return nil, fmt.Errorf("rocketmq: new consumer for %s: %w", topic, err)
	}
	queues, err := consumerQueues(c)
	if err != nil {
		return nil, fmt.Errorf("rocketmq: rocketmq-client-go is not the version mqrpc was built for: %w", err)
	}
	s := &subscription{t: t, consumer: c, h: h, queues: queues}
	consume := s.consume
	if kind == ordered {
		consume = s.consumeOrderly
	}
	if err := c.Subscribe(topic, consumer.MessageSelector{Type: consumer.TAG, Expression: "*"}, consume); err != nil {
		return nil, fmt.Errorf("rocketmq: subscribe %s: %w", topic, err)
	}
	// Start registers the group with the brokers by a heartbeat to one
	// broker after another, and a broker that has it already notifies the
	// client, whose rebalance then may pull from a broker that does not
	// have it yet. That broker refuses the pull and the library waits 3 s
	// before pulling the queue again: the first requests on those queues
	// would wait 3 s. Rebalances are held until Start's heartbeat has
	// reached every broker.
	release := t.client.holdRebalance()
	err = c.Start()
	release()
	if err != nil {
		return nil, fmt.Errorf("rocketmq: start consumer of %s: %w", topic, err)
	}
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		_ = c.Shutdown()
		return nil, runtime.ErrClosed
	}
	t.subs[s] = struct{}{}
	t.mu.Unlock()
	return s, nil
}

// CreateTopic creates topic, with Config.TopicQueues queues, on every master
// broker of the cluster (or updates it there), and waits until the name
// server routes the queues of all of them: a consumer or producer that
// starts earlier would use only the brokers routed so far until its next
// route refresh, 30 s later. Subscribe calls it unless
// Config.NoCreateTopics is set.
func (t *Transport) CreateTopic(topic string) error {
	brokers, err := t.brokers()
	if err != nil {
		return err
	}
	return t.createTopicOn(topic, brokers)
}

// createTopicOn creates topic on brokers (name to address) and waits until
// the name server routes it to all of them.
func (t *Transport) createTopicOn(topic string, brokers map[string]string) error {
	ns, err := t.client.nameServer()
	if err != nil {
		return err
	}
	adm, err := t.newAdmin()
	if err != nil {
		return fmt.Errorf("rocketmq: admin client: %w", err)
	}
	defer func() {
		_ = adm.Close()
		if c, err := adminClient(adm); err == nil {
			_ = c.closeNameServer()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for name, addr := range brokers {
		err := adm.CreateTopic(ctx,
			admin.WithTopicCreate(topic),
			admin.WithBrokerAddrCreate(addr),
			admin.WithReadQueueNums(t.cfg.TopicQueues),
			admin.WithWriteQueueNums(t.cfg.TopicQueues))
		if err != nil {
			return fmt.Errorf("rocketmq: create topic %s on broker %s (%s): %w", topic, name, addr, err)
		}
	}
	// A broker registers a new topic with the name server on its own
	// schedule; the consumer needs the route to start. Each look asks the
	// name server: a cached route that has only some of the brokers would
	// stay so.
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		if qs, err := ns.FetchSubscribeMessageQueues(topic); err == nil && routedOnAll(qs, brokers) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("rocketmq: topic %s created but not routed by the name server: %w", topic, ctx.Err())
		case <-tick.C:
		}
	}
}

// routedOnAll reports whether queues include some on each of brokers.
func routedOnAll(queues []*primitive.MessageQueue, brokers map[string]string) bool {
	on := make(map[string]bool, len(brokers))
	for _, q := range queues {
		on[q.BrokerName] = true
	}
	for name := range brokers {
		if !on[name] {
			return false
		}
	}
	return true
}

type subscription struct {
	t        *Transport
	consumer rocketmqConsumer
	h        runtime.MessageHandler
	// queues is the library's table of the queues the consumer pulls; see
	// Transport.expirePulls.
	queues *sync.Map

	mu       sync.Mutex
	stopping bool
	inflight sync.WaitGroup
	stopOnce sync.Once
	err      error
}

type rocketmqConsumer interface {
	Suspend()
	Shutdown() error
}

// consume runs the handler on each message. A message the handler refuses
// (the server is stopping) goes back to the broker to be delivered again,
// to this group's next consumer.
func (s *subscription) consume(ctx context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
	s.mu.Lock()
	if s.stopping {
		s.mu.Unlock()
		return retryLater(ctx), nil
	}
	s.inflight.Add(1)
	s.mu.Unlock()
	defer s.inflight.Done()
	for _, m := range msgs {
		msg := s.requestOf(m)
		switch err := s.h(ctx, msg); {
		case errors.Is(err, runtime.ErrDeadLetter):
			return deadLetter(ctx), nil
		case err != nil:
			return retryLater(ctx), nil
		}
	}
	return consumer.ConsumeSuccess, nil
}

// requestOf is the request m as the server's handler takes it: its
// deadline from a plain requester's TTL when it has none of its own, its
// body inflated within the max message size, and its delivery attempt.
func (s *subscription) requestOf(m *primitive.MessageExt) *runtime.Message {
	props := m.GetProperties()
	deadlineFromTTL(props, m.BornTimestamp)
	body, bodyErr := deliveredRequestBody(m, s.t.cfg.MaxMessageSize)
	return &runtime.Message{
		Topic:      m.Topic,
		Tag:        m.GetTags(),
		Key:        m.GetKeys(),
		OrderKey:   props[runtime.PropOrderKey],
		Properties: props,
		Body:       deliveredBody(props, body),
		Err:        bodyErr,
		Origin:     m,
		SentAt:     unixMilli(m.BornTimestamp),
		StoredAt:   unixMilli(m.StoreTimestamp),
		Attempt:    1 + int(m.ReconsumeTimes),
	}
}

// deadlineFromTTL gives a request of a plain RocketMQ requester, such as the
// Java client's request(), the mqrpc deadline its RIP-16 TTL implies: when
// it was sent (born, unix ms) plus the TTL. The requester gives up then, so
// the server need not run it any later. Requests with a deadline of their
// own keep it.
func deadlineFromTTL(props map[string]string, born int64) {
	if _, ok := props[runtime.PropDeadline]; ok {
		return
	}
	ttl, err := strconv.ParseInt(props[propTTL], 10, 64)
	if err != nil || ttl <= 0 || born <= 0 {
		return
	}
	props[runtime.PropDeadline] = strconv.FormatInt(born+ttl, 10)
}

// retryTopicPrefix and dlqTopicPrefix name a consumer group's retry and
// dead-letter topics, as RocketMQ does.
const (
	retryTopicPrefix = "%RETRY%"
	dlqTopicPrefix   = "%DLQ%"
)

// DeadLetterTopic is the topic where the broker keeps the dead letters of
// group: requests handed back more than Config.MaxRedeliveries times, and
// those a server refused with runtime.ErrDeadLetter. The broker creates it
// (one queue, readable and writable) when it moves the group's first
// message there; a Store reads it like any topic.
func DeadLetterTopic(group string) string { return dlqTopicPrefix + group }

// deadLetter has the broker move the messages of ctx to the group's
// dead-letter queue at once: the consumer sends them back with delay level
// -1, which the broker takes as "to the DLQ" whatever their reconsume
// count.
func deadLetter(ctx context.Context) consumer.ConsumeResult {
	if cc, ok := primitive.GetConcurrentlyCtx(ctx); ok {
		cc.DelayLevelWhenNextConsume = -1
	}
	return consumer.ConsumeRetryLater
}

// retryLater has the broker deliver the messages of ctx again after 1 s,
// its shortest delay, rather than after the 10 s it picks by default: a
// message is handed back when its server is stopping, and another server
// of the group can take it at once.
func retryLater(ctx context.Context) consumer.ConsumeResult {
	if cc, ok := primitive.GetConcurrentlyCtx(ctx); ok {
		cc.DelayLevelWhenNextConsume = 1
	}
	return consumer.ConsumeRetryLater
}

// Stop suspends pulling, waits for the handlers in progress (whose replies
// are then sent and whose offsets can be committed), and shuts the consumer
// down. Shutting down first would drop their offsets and have the broker
// deliver those requests again.
func (s *subscription) Stop() error {
	s.stopOnce.Do(func() {
		s.mu.Lock()
		s.stopping = true
		s.mu.Unlock()
		s.consumer.Suspend() // later rebalances skip a suspended consumer
		if err := s.t.client.awaitRebalance(); err != nil {
			s.t.cfg.Logger.Warn("mqrpc: rocketmq consumer stop", "err", err)
		}
		s.inflight.Wait()
		s.err = s.consumer.Shutdown()
		s.t.mu.Lock()
		delete(s.t.subs, s)
		s.t.mu.Unlock()
	})
	return s.err
}
