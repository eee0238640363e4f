package runtime

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash/fnv"
	"unicode"
	"unicode/utf8"
)

// PropOrderKey carries the order key of an ordered call (WithOrderKey).
const PropOrderKey = "mqrpc-order-key"

// MaxOrderKeyLen bounds the length of an order key, in bytes.
const MaxOrderKeyLen = 128

// WithOrderKey makes the call an ordered call: the calls that carry the same
// key are run by the servers of the service one at a time, in the order the
// broker stored them, while calls with other keys (or none) run in
// parallel. A call that waits behind others of its key keeps its deadline:
// when that passes first, the call is not run and fails with
// DeadlineExceeded. A handler's error does not let a later call of the key
// overtake the one that failed.
//
// The order is the order in which the requests were stored: calls made one
// after the other (each returning before the next starts), or one-way calls
// sent one after the other, run in that order; calls started at the same
// time from several goroutines run one at a time, in whichever order they
// reached the broker.
//
// An empty key makes the call unordered again, so that one call of a
// client made WithCallOptions(WithOrderKey(k)) can opt out. A key must be
// valid UTF-8 of at most MaxOrderKeyLen bytes without control characters,
// or the call fails with InvalidArgument before anything is sent. The
// transport must carry ordered calls (see OrderedTransport), or the call
// fails with Unimplemented, and the servers must be started
// WithOrderedCalls.
func WithOrderKey(key string) CallOption {
	return func(o *callOptions) { o.orderKey = key }
}

// OrderedTransport is a Transport that carries ordered calls. A Server
// started WithOrderedCalls consumes the ordered topic of each of its
// services (OrderedTopicFor) through SubscribeOrdered, besides the service
// topic.
type OrderedTransport interface {
	Transport

	// SubscribeOrdered consumes topic as a member of group, like
	// Subscribe, but hands h the messages of one order key
	// (Message.OrderKey) one at a time, in the order they were stored:
	// the next is handed over only when h has returned nil or
	// ErrDeadLetter for the one before. A message h returns another error
	// for is handed over again before any later message of its key.
	// Messages of different keys may be handled at the same time.
	SubscribeOrdered(topic, group string, h MessageHandler) (Subscription, error)
}

// orderedTopicSuffix ends the name of a service's ordered topic.
const orderedTopicSuffix = "_ordered"

// OrderedTopicFor returns the topic that carries the ordered calls to the
// service whose request topic is topic: topic with "_ordered" appended.
// When that would be longer than 127 characters, topic is cut and a hash
// of it inserted, as TopicFor does, so that distinct topics keep distinct
// ordered topics.
func OrderedTopicFor(topic string) string {
	if len(topic)+len(orderedTopicSuffix) <= maxTopicLen {
		return topic + orderedTopicSuffix
	}
	sum := sha256.Sum256([]byte(topic))
	h := hex.EncodeToString(sum[:8])
	return topic[:maxTopicLen-len(orderedTopicSuffix)-len(h)-1] + "_" + h + orderedTopicSuffix
}

// OrderQueue returns the index of the queue that carries the calls of key
// among n queues: the 32-bit FNV-1a hash of key's bytes modulo n. The
// queues are numbered in the order of their broker's name, then of their
// queue id. docs/PROTOCOL.md has the rule for peers in other languages.
func OrderQueue(key string, n int) int {
	if n <= 0 {
		return 0
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(key))
	return int(uint64(h.Sum32()) % uint64(n))
}

// checkOrderKey refuses an order key the broker could not carry in a
// property, or that would be confused with another.
func checkOrderKey(key, method string) error {
	switch {
	case len(key) > MaxOrderKeyLen:
		return Errorf(InvalidArgument, "order key of a call to %s is %d bytes, over the limit of %d", method, len(key), MaxOrderKeyLen)
	case !utf8.ValidString(key):
		return Errorf(InvalidArgument, "order key %q of a call to %s is not valid UTF-8", key, method)
	}
	for _, r := range key {
		if unicode.IsControl(r) {
			return Errorf(InvalidArgument, "order key %q of a call to %s contains the control character %U; RocketMQ separates properties with control characters", key, method, r)
		}
	}
	return nil
}

// orderRequest makes msg, the request of a call with options o, an ordered
// call when o has an order key: it goes to the service's ordered topic and
// carries its key.
func (c *Client) orderRequest(o *callOptions, msg *Message, method string) error {
	if o.orderKey == "" {
		return nil
	}
	if err := checkOrderKey(o.orderKey, method); err != nil {
		return err
	}
	if _, ok := c.transport.(OrderedTransport); !ok {
		return Errorf(Unimplemented, "ordered call to %s: transport %T does not carry ordered calls", method, c.transport)
	}
	msg.Topic = OrderedTopicFor(msg.Topic)
	msg.OrderKey = o.orderKey
	msg.Properties[PropOrderKey] = o.orderKey
	return nil
}

// WithOrderedCalls has the server serve ordered calls (WithOrderKey) too:
// it consumes the ordered topic of each of its services (OrderedTopicFor)
// besides the service topic, one call at a time per order key. Without it,
// ordered calls to the server's services wait, unserved, until their
// deadlines pass. The transport must be an OrderedTransport, or Start
// fails.
//
// It is an option because the ordered consumption costs every server that
// does it: on RocketMQ, a second topic and consumer group per service and
// an orderly consumer that polls each of its queues.
func WithOrderedCalls() ServerOption {
	return serverOptionFunc(func(o *serverOptions) { o.ordered = true })
}

// subscribeOrdered subscribes the server to the ordered topic of topic,
// when it serves ordered calls; it returns nil otherwise.
func (s *Server) subscribeOrdered(topic string) (Subscription, error) {
	if !s.opts.ordered {
		return nil, nil
	}
	ot, ok := s.transport.(OrderedTransport)
	if !ok {
		return nil, fmt.Errorf("serve ordered calls: transport %T does not carry them", s.transport)
	}
	ordered := OrderedTopicFor(topic)
	sub, err := ot.SubscribeOrdered(ordered, GroupFor(ordered), s.handle)
	if err != nil {
		return nil, fmt.Errorf("subscribe %s: %w", ordered, err)
	}
	return sub, nil
}

// serviceOfTopic returns the service whose requests, ordered, fan-out or
// neither, arrive on topic, or "".
func (s *Server) serviceOfTopic(topic string) string {
	if name, ok := s.byTopic[topic]; ok {
		return name
	}
	for t, name := range s.byTopic {
		if OrderedTopicFor(t) == topic || FanoutTopicFor(t) == topic {
			return name
		}
	}
	return ""
}
