package rocketmq

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/apache/rocketmq-client-go/v2/primitive"

	"github.com/mqrpc/mqrpc/runtime"
)

func (t *Transport) Request(ctx context.Context, m *runtime.Message) error {
	pm := toPrimitive(m)
	pm.WithProperty(propReplyTo, t.clientID)
	// RIP-16's TTL in milliseconds, as the Java client sets it; mqrpc's own
	// deadline property is what servers act on.
	ttl := int64(t.cfg.SendTimeout / time.Millisecond)
	deadline, ok := callDeadline(m)
	if ok {
		ttl = max(time.Until(deadline).Milliseconds(), 1)
	}
	pm.WithProperty(propTTL, strconv.FormatInt(ttl, 10))
	return t.sendBy(ctx, pm, deadline, ok)
}

func (t *Transport) Send(ctx context.Context, m *runtime.Message) error {
	deadline, ok := callDeadline(m)
	return t.sendBy(ctx, toPrimitive(m), deadline, ok)
}

// callDeadline reads the deadline a request or one-way message carries.
func callDeadline(m *runtime.Message) (time.Time, bool) {
	ms, err := strconv.ParseInt(m.Properties[runtime.PropDeadline], 10, 64)
	return time.UnixMilli(ms), err == nil
}

// sendBy sends pm, giving up at deadline (when ok) if that comes before
// ctx's: with runtime.WithTimeout a call's deadline can be the earlier one,
// and a send still waiting for a free sender or for the broker's answer
// then must not hold the caller past it.
func (t *Transport) sendBy(ctx context.Context, pm *primitive.Message, deadline time.Time, ok bool) error {
	if d, has := ctx.Deadline(); !ok || has && !deadline.Before(d) {
		return t.send(ctx, pm)
	}
	sendCtx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	err := t.send(sendCtx, pm)
	if err != nil && ctx.Err() == nil && sendCtx.Err() != nil {
		return runtime.Errorf(runtime.DeadlineExceeded, "rocketmq: message to %s not sent by its deadline", pm.Topic)
	}
	return err
}

func (t *Transport) send(ctx context.Context, pm *primitive.Message) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	// rocketmq-client-go makes the context's deadline the write deadline
	// of the connection to the broker, which every call and the broker's
	// reply pushes share, and closes that connection when a write misses
	// it: one call whose deadline passed while it was being sent would
	// cost every reply in flight on the connection (they are lost with
	// "channel not found" until the next heartbeat, and their calls fail
	// at their deadlines). So the library gets no deadline from the
	// caller: a sender runs the send, and the caller returns at its
	// deadline anyway.
	job := &sendJob{pm: pm, done: make(chan error, 1)}
	if err := t.hand(ctx, job); err != nil {
		return err
	}
	select {
	case err := <-job.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// sendJob is one message for a sender, and where its result goes.
type sendJob struct {
	pm   *primitive.Message
	done chan error // buffered: the sender never waits for the caller
}

// hand gives job to an idle sender, or to a new one while fewer than
// Config.SendGoroutines run, or else waits for one to be free. It fails,
// not having handed job over, when the transport is closed or ctx ends
// first.
func (t *Transport) hand(ctx context.Context, job *sendJob) error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return runtime.ErrClosed
	}
	// Counted before Close can wait for the sends, and handed over
	// before it stops the senders.
	t.sends.Add(1)
	select {
	case t.queue <- job:
		t.mu.Unlock()
		return nil
	default:
	}
	if t.nsenders < t.cfg.SendGoroutines {
		t.nsenders++
		t.senders.Add(1)
		t.mu.Unlock()
		go t.sender(job)
		return nil
	}
	t.mu.Unlock()
	select {
	case t.queue <- job:
		return nil
	case <-ctx.Done():
		t.sends.Done()
		return ctx.Err()
	}
}

// sender runs job, then every job handed to it until the transport stops.
func (t *Transport) sender(job *sendJob) {
	defer t.senders.Done()
	for {
		// The library bounds each attempt by SendTimeout itself.
		res, err := t.producer.SendSync(context.Background(), job.pm)
		if err == nil && res.Status != primitive.SendOK {
			// The message is stored, but not flushed or replicated as the
			// broker is configured to; it will be delivered.
			t.cfg.Logger.Debug("mqrpc: rocketmq send status", "status", res.Status, "topic", job.pm.Topic)
		}
		job.done <- err
		t.sends.Done()
		select {
		case job = <-t.queue:
		case <-t.stop:
			return
		}
	}
}

// Reply sends reply to the cluster's reply topic as RocketMQ's
// MessageUtil.createReplyMessage does, through the broker that delivered
// the request.
func (t *Transport) Reply(ctx context.Context, request, reply *runtime.Message) error {
	req := request.Properties
	if req[propReplyTo] == "" {
		return errors.New("rocketmq: request has no REPLY_TO_CLIENT property; it was not sent as a request")
	}
	cluster := req[propCluster]
	if cluster == "" {
		cluster = t.cfg.Cluster
	}
	pm := newPrimitive(replyTopicOf(cluster), reply.Body, reply.Properties)
	pm.WithProperty(propMsgType, replyType) // sent with SEND_REPLY_MESSAGE, so the broker pushes it
	pm.WithProperty(primitive.PropertyCorrelationID, req[primitive.PropertyCorrelationID])
	pm.WithProperty(propReplyTo, req[propReplyTo])
	pm.WithProperty(propTTL, req[propTTL])
	if reply.Key != "" {
		pm.WithKeys([]string{reply.Key})
	}
	// A plain RocketMQ requester (the Java client's request()) registers
	// only with the brokers of its request topic, so its reply goes back
	// through the broker that carried the request. An mqrpc client
	// registers with every broker of the cluster before its first call, so
	// its replies are spread over the brokers like any other send: through
	// the request's broker, a large call would load one broker with both
	// its request and its reply, which shows in the tail latency.
	_, fromMQRPC := req[runtime.PropVersion]
	if origin, ok := request.Origin.(*primitive.MessageExt); ok && origin.Queue != nil && !fromMQRPC {
		pm.Queue = &primitive.MessageQueue{BrokerName: origin.Queue.BrokerName}
	}
	err := t.send(ctx, pm)
	if err != nil && strings.Contains(err.Error(), replyNotPushed) {
		// Stored, not pushed, and not sent again (see inflate.go's
		// intercept).
		return fmt.Errorf("%w: %v", runtime.ErrRequesterGone, err)
	}
	return err
}
