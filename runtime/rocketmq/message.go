package rocketmq

import (
	"maps"
	"time"

	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"

	"github.com/mqrpc/mqrpc/runtime"
)

// Property names RocketMQ defines for request/reply (RIP-16).
const (
	propReplyTo = primitive.PropertyMessageReplyToClient // "REPLY_TO_CLIENT"
	propTTL     = primitive.PropertyMessageTTL           // "TTL"
	propCluster = primitive.PropertyCluster              // "CLUSTER"
	propMsgType = primitive.PropertyMsgType              // "MSG_TYPE"
	replyType   = "reply"
)

// unixMilli turns one of RocketMQ's millisecond timestamps into a time; zero
// (absent) stays the zero time.
func unixMilli(ms int64) time.Time {
	if ms <= 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms)
}

// RocketMQ refuses messages with an empty body, which an OK reply of an
// error-only method or an error without details has. Such a body travels as
// one zero byte with propEmptyBody set, and is empty again on delivery.
const propEmptyBody = "mqrpc-empty-body"

func toPrimitive(m *runtime.Message) *primitive.Message {
	pm := newPrimitive(m.Topic, m.Body, m.Properties)
	if m.Tag != "" {
		pm.WithTag(m.Tag)
	}
	switch {
	case len(m.Keys) > 0:
		pm.WithKeys(append([]string{m.Key}, m.Keys...))
	case m.Key != "":
		pm.WithKeys([]string{m.Key})
	}
	if m.OrderKey != "" {
		pm.WithShardingKey(m.OrderKey) // see orderSelector
	}
	return pm
}

// newPrimitive returns a message for topic with a copy of props and body,
// encoding an empty body as propEmptyBody says.
func newPrimitive(topic string, body []byte, props map[string]string) *primitive.Message {
	pm := primitive.NewMessage(topic, body)
	pm.WithProperties(maps.Clone(props))
	if len(body) == 0 {
		pm.Body = []byte{0}
		pm.WithProperty(propEmptyBody, "1")
	}
	return pm
}

// deliveredBody returns the body a sender meant: empty when it marked it so.
func deliveredBody(props map[string]string, body []byte) []byte {
	if props[propEmptyBody] != "" {
		delete(props, propEmptyBody)
		return nil
	}
	return body
}

// replySelector sends a reply through the broker its request came from, when
// Reply noted it on the message: the requester sent the request there, so
// that broker knows it and can push the reply. Retries, and every other
// message, go round-robin.
type replySelector struct {
	next producer.QueueSelector
}

func (s replySelector) Select(m *primitive.Message, mqs []*primitive.MessageQueue, last string) *primitive.MessageQueue {
	if m.Queue != nil && last == "" {
		for _, q := range mqs {
			if q.BrokerName == m.Queue.BrokerName {
				return q
			}
		}
	}
	return s.next.Select(m, mqs, last)
}
