// Package rocketmq is the mqrpc transport over Apache RocketMQ's
// request/reply model (RIP-16): a request is a message on the service's
// topic, a server consumes it in the service's consumer group and sends the
// reply to the cluster's reply topic, and the broker pushes the reply to the
// connection of the client that sent the request.
//
//	tr, err := rocketmq.New(rocketmq.Config{NameServers: []string{"127.0.0.1:9876"}})
//	client, err := runtime.NewClient(tr)
//
// It is built on github.com/apache/rocketmq-client-go/v2 with its producer
// and push consumer, but keeps correlation and timing itself: a call waits on
// its context, not on a library timer, and its reply is matched by mqrpc's
// call id.
package rocketmq

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/apache/rocketmq-client-go/v2/admin"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"

	"github.com/mqrpc/mqrpc/runtime"
)

// Config configures a Transport. Only NameServers is required.
type Config struct {
	// NameServers are the name server addresses, "host:port".
	NameServers []string
	// Cluster is the broker cluster whose reply topic, <Cluster>_REPLY_TOPIC,
	// carries replies. Default "DefaultCluster".
	Cluster string
	// Group is the producer group, which brokers use to find this client
	// when they push a reply. Default "mqrpc_client".
	Group string
	// AccessKey and SecretKey sign requests for brokers with ACL enabled.
	AccessKey, SecretKey string
	// ConsumeGoroutines bounds the handler calls each subscription runs at
	// once. Default 64, the runtime server's default concurrency.
	ConsumeGoroutines int
	// MaxRedeliveries bounds how many times the broker delivers again a
	// request that a server handed back (a server that was stopping);
	// handed back once more, it goes to the group's dead-letter queue,
	// %DLQ%<group>. Default 3: a request is handed back only by a server
	// that stops, and one that four servers in a row could not take is
	// more likely the cause than the victim. A request the server refuses
	// with runtime.ErrDeadLetter goes there at once. RocketMQ does not
	// count a redelivery after a consumer died without acknowledging; a
	// shared runtime.DedupStore catches those.
	MaxRedeliveries int
	// TopicQueues is the number of queues of a request topic the transport
	// creates. Default 4.
	TopicQueues int
	// MaxMessageSize bounds what a message body flagged compressed may
	// inflate to, in requests a server consumes and replies a client
	// receives; the transport inflates no further. A request past it
	// reaches the server refused (runtime.Message.Err), which answers
	// ResourceExhausted without running a handler; a reply past it fails
	// its call with ResourceExhausted. Default
	// runtime.DefaultMaxMessageSize, RocketMQ's default limit on a body.
	MaxMessageSize int
	// NoCreateTopics stops Subscribe from creating request topics on the
	// cluster's brokers; set it where topics are provisioned by operators.
	NoCreateTopics bool
	// SendTimeout bounds one attempt to store a message. Default 3 s.
	SendTimeout time.Duration
	// SendGoroutines bounds the sends (requests, one-way calls and
	// replies) the transport runs at once; more wait for a free one.
	// Default 64.
	SendGoroutines int
	// HeartbeatInterval is how often the client asks the name server for
	// the brokers of the cluster and re-registers with every one of them,
	// so that a broker that restarted, or joined the cluster after the
	// client started, can push replies to it within that time. Default 5 s.
	HeartbeatInterval time.Duration
	// Logger receives the transport's own warnings. Default: discarded.
	// The library's log goes to SetLogger's logger.
	Logger *slog.Logger
}

func (c *Config) defaults() error {
	if len(c.NameServers) == 0 {
		return errors.New("rocketmq: Config.NameServers is empty")
	}
	if c.Cluster == "" {
		c.Cluster = "DefaultCluster"
	}
	if c.Group == "" {
		c.Group = "mqrpc_client"
	}
	if c.ConsumeGoroutines == 0 {
		c.ConsumeGoroutines = runtime.DefaultMaxConcurrency
	}
	if c.TopicQueues == 0 {
		c.TopicQueues = 4
	}
	if c.MaxMessageSize == 0 {
		c.MaxMessageSize = runtime.DefaultMaxMessageSize
	}
	if c.MaxRedeliveries == 0 {
		c.MaxRedeliveries = 3
	}
	if c.SendTimeout == 0 {
		c.SendTimeout = 3 * time.Second
	}
	if c.SendGoroutines == 0 {
		c.SendGoroutines = 64
	}
	if c.HeartbeatInterval == 0 {
		c.HeartbeatInterval = 5 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// Property names RocketMQ defines for request/reply (RIP-16).
const (
	propReplyTo = primitive.PropertyMessageReplyToClient // "REPLY_TO_CLIENT"
	propTTL     = primitive.PropertyMessageTTL           // "TTL"
	propCluster = primitive.PropertyCluster              // "CLUSTER"
	propMsgType = primitive.PropertyMsgType              // "MSG_TYPE"
	replyType   = "reply"
)

// Transport is a runtime.Transport over a RocketMQ cluster.
type Transport struct {
	cfg      Config
	instance string // unique per transport, so its client id is too
	producer rocketmqProducer
	client   libClient
	clientID string
	replies  func(*runtime.Message)
	replyMu  sync.RWMutex
	// pushes is held for reading by each reply push being answered; see
	// libClient.onPushedReply.
	pushes sync.RWMutex

	// refreshRoute fetches a topic's route from the name server; see
	// libClient.routeRefresher.
	refreshRoute func(topic string) (map[string]string, error)
	// brokerSeen is when each broker was last in the cluster's route.
	seenMu     sync.Mutex
	brokerSeen map[string]time.Time

	// watch restarts the pulls of, and re-registers with, a broker that
	// restarted; see recover.go.
	watch *brokerWatch

	mu     sync.Mutex
	subs   map[*subscription]struct{}
	closed bool
	sends  sync.WaitGroup // sends in progress, which may outlive their callers

	// Senders run the sends, so that a caller can return at its deadline
	// while its send goes on (see send). Up to Config.SendGoroutines of
	// them are started as the load needs them, and they wait for more on
	// queue until the transport closes.
	queue    chan *sendJob
	nsenders int // guarded by mu
	senders  sync.WaitGroup

	stop chan struct{}
	done chan struct{}
}

// rocketmqProducer is the part of the library's producer we use.
type rocketmqProducer interface {
	Start() error
	Shutdown() error
	SendSync(ctx context.Context, msgs ...*primitive.Message) (*primitive.SendResult, error)
}

var _ runtime.Transport = (*Transport)(nil)

// New connects a transport to the cluster: it starts a producer, registers
// it with every broker that hosts the cluster's reply topic (so that the
// reply to the very first call can be pushed back), and keeps that
// registration fresh.
func New(cfg Config) (*Transport, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	installDefaultLogger()
	var b [8]byte
	_, _ = rand.Read(b[:])
	t := &Transport{
		cfg:        cfg,
		instance:   "mqrpc-" + hex.EncodeToString(b[:]),
		subs:       make(map[*subscription]struct{}),
		stop:       make(chan struct{}),
		brokerSeen: make(map[string]time.Time),
		queue:      make(chan *sendJob),
		done:       make(chan struct{}),
	}
	p, err := producer.NewDefaultProducer(append(t.commonProducerOptions(),
		producer.WithGroupName(cfg.Group),
		// Replies to plain RocketMQ requesters go through the broker that
		// carried their request, which knows the requester; see Reply.
		producer.WithQueueSelector(replySelector{next: orderSelector{next: producer.NewRoundRobinQueueSelector()}}),
		// Bodies are sent as they are: compression costs latency, and the
		// library flags reply bodies compressed without compressing them.
		producer.WithCompressMsgBodyOverHowmuch(math.MaxInt32),
	)...)
	if err != nil {
		return nil, fmt.Errorf("rocketmq: new producer: %w", err)
	}
	t.producer = p
	if t.client, err = clientOf(p); err == nil {
		t.clientID, err = t.client.ID()
	}
	if err == nil {
		t.refreshRoute, err = t.client.routeRefresher()
	}
	if err == nil {
		err = t.client.onPushedReply(t.deliverReply, &t.pushes)
	}
	if err == nil {
		t.watch, err = t.client.newBrokerWatch()
	}
	if err == nil {
		err = t.client.defuseBrokerRequests()
	}
	if err != nil {
		return nil, fmt.Errorf("rocketmq: rocketmq-client-go is not the version mqrpc was built for: %w", err)
	}
	if err := p.Start(); err != nil {
		return nil, fmt.Errorf("rocketmq: start producer: %w", err)
	}
	// The consumers of Subscribe share the producer's client, and so its
	// pull results' defusing (see inflate.go).
	if err := t.client.defusePullResults(); err != nil {
		_ = t.client.shutdown(p.Shutdown)
		return nil, fmt.Errorf("rocketmq: rocketmq-client-go is not the version mqrpc was built for: %w", err)
	}
	if err := t.register(); err != nil {
		_ = p.Shutdown()
		return nil, err
	}
	go t.keepRegistered()
	t.startBrokerWatch()
	return t, nil
}

func (t *Transport) commonProducerOptions() []producer.Option {
	opts := []producer.Option{
		producer.WithNsResolver(primitive.NewPassthroughResolver(t.cfg.NameServers)),
		producer.WithInstanceName(t.instance),
		producer.WithSendMsgTimeout(t.cfg.SendTimeout),
		producer.WithRetry(2),
	}
	if t.cfg.AccessKey != "" {
		opts = append(opts, producer.WithCredentials(t.credentials()))
	}
	return opts
}

func (t *Transport) credentials() primitive.Credentials {
	return primitive.Credentials{AccessKey: t.cfg.AccessKey, SecretKey: t.cfg.SecretKey}
}

func (t *Transport) replyTopic() string { return replyTopicOf(t.cfg.Cluster) }

// replyTopicOf is the system topic that carries a cluster's replies, which
// every broker of the cluster creates.
func replyTopicOf(cluster string) string { return cluster + "_REPLY_TOPIC" }

// register learns every broker of the cluster from the route of its reply
// topic, which each of them hosts, and heartbeats to all of them. A replier
// may send a reply through any of them, and a broker pushes replies only to
// clients that have heartbeated to it with a producer group.
func (t *Transport) register() error {
	if _, err := t.brokers(); err != nil {
		return err
	}
	return t.client.heartbeat()
}

// brokers returns the master address of every broker of the cluster by
// name, from the route of the cluster's reply topic as the name server
// gives it now. The route also goes into the library's tables, so the next
// heartbeat reaches every broker in it; and the table is pinned (see
// libClient.pinBrokers), forgetting brokers that have been out of the
// cluster for forgetBrokerAfter.
func (t *Transport) brokers() (map[string]string, error) {
	brokers, err := t.refreshRoute(t.replyTopic())
	if err != nil {
		return nil, fmt.Errorf("rocketmq: route of reply topic %s (is the name server at %v up, and the cluster named %q?): %w",
			t.replyTopic(), t.cfg.NameServers, t.cfg.Cluster, err)
	}
	if len(brokers) == 0 {
		return nil, fmt.Errorf("rocketmq: no broker of cluster %s found", t.cfg.Cluster)
	}
	now := time.Now()
	t.seenMu.Lock()
	defer t.seenMu.Unlock()
	for name := range brokers {
		t.brokerSeen[name] = now
	}
	err = t.client.pinBrokers(func(name string) bool { return t.forgetBroker(name, now) })
	if err != nil {
		return nil, fmt.Errorf("rocketmq: rocketmq-client-go is not the version mqrpc was built for: %w", err)
	}
	return brokers, nil
}

// forgetBroker reports whether the client should stop heartbeating to the
// named broker: it was in the cluster's route, but not for
// forgetBrokerAfter. A broker never in the cluster's route came from the
// route of a topic elsewhere, which the library keeps, not the transport.
// t.seenMu must be held.
func (t *Transport) forgetBroker(name string, now time.Time) bool {
	seen, ok := t.brokerSeen[name]
	if !ok || now.Sub(seen) < forgetBrokerAfter {
		return false
	}
	delete(t.brokerSeen, name)
	return true
}

// forgetBrokerAfter is how long a broker may be missing from the cluster's
// route before the client stops heartbeating to it. A broker restart takes
// seconds; one missing this long has most likely left the cluster, and the
// library learns it again when it comes back, as the route changes.
const forgetBrokerAfter = 2 * time.Minute

// keepRegistered heartbeats on its own schedule, shorter than the library's
// 30 s, so that a broker that restarted or joined the cluster learns of
// this client soon.
func (t *Transport) keepRegistered() {
	defer close(t.done)
	tick := time.NewTicker(t.cfg.HeartbeatInterval)
	defer tick.Stop()
	for {
		select {
		case <-t.stop:
			return
		case <-tick.C:
			if err := t.register(); err != nil {
				t.cfg.Logger.Warn("mqrpc: rocketmq heartbeat", "err", err)
			}
		}
	}
}

// ClientID returns the id brokers route this transport's replies by.
func (t *Transport) ClientID() string { return t.clientID }

// System is "rocketmq", OpenTelemetry's messaging.system for RocketMQ.
func (t *Transport) System() string { return "rocketmq" }

func (t *Transport) ListenReplies(h func(*runtime.Message)) error {
	t.replyMu.Lock()
	defer t.replyMu.Unlock()
	t.replies = h
	return nil
}

// deliverReply hands a pushed reply to the reply listener.
func (t *Transport) deliverReply(r pushedReply) {
	t.replyMu.RLock()
	h := t.replies
	t.replyMu.RUnlock()
	if h == nil {
		return
	}
	body := r.body
	if r.sysFlag&primitive.FlagCompressed != 0 {
		// Java repliers compress large bodies; the flag is also set on
		// bodies that are not compressed (rocketmq-client-go sets it on
		// large replies it sends as they are), so keep those as they are.
		out, err := inflate(body, t.cfg.MaxMessageSize)
		switch {
		case errors.Is(err, errInflatesPastLimit):
			// The call fails as its results could not be taken.
			body = nil
			if r.props == nil {
				r.props = map[string]string{}
			}
			r.props[runtime.PropStatus] = strconv.Itoa(int(runtime.ResourceExhausted))
			r.props[runtime.PropMessage] = fmt.Sprintf("reply body of %d bytes, flagged compressed, inflates to more than %d bytes, the limit",
				len(r.body), t.cfg.MaxMessageSize)
		case err == nil:
			body = out
		}
	}
	h(&runtime.Message{
		Topic:      r.topic,
		Key:        r.props[primitive.PropertyKeys],
		Properties: r.props,
		Body:       deliveredBody(r.props, body),
		SentAt:     unixMilli(r.bornTimestamp),
		StoredAt:   unixMilli(r.storeTimestamp),
	})
}

// unixMilli turns one of RocketMQ's millisecond timestamps into a time; zero
// (absent) stays the zero time.
func unixMilli(ms int64) time.Time {
	if ms <= 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms)
}

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

func (t *Transport) isClosed() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.closed
}

// Close stops every subscription, waiting for their handlers, then the
// producer.
func (t *Transport) Close() error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil
	}
	t.closed = true
	subs := make([]*subscription, 0, len(t.subs))
	for s := range t.subs {
		subs = append(subs, s)
	}
	t.mu.Unlock()
	// Before the subscriptions stop: a recovery rebalances their consumers.
	t.stopBrokerWatch()

	var errs []error
	for _, s := range subs {
		errs = append(errs, s.Stop())
	}
	t.sends.Wait()
	// Pushed replies that arrived are answered before the connections
	// close; later ones find the client closing.
	t.pushes.Lock()
	t.pushes.Unlock() // an empty critical section: it only waits for the readers
	close(t.stop)     // ends the heartbeat loop and the idle senders
	<-t.done
	t.senders.Wait()
	errs = append(errs, t.client.shutdown(t.producer.Shutdown))
	return errors.Join(errs...)
}

// newAdmin returns an admin client for topic management.
func (t *Transport) newAdmin() (admin.Admin, error) { return openAdmin(t.cfg) }

// openAdmin returns an admin client of the cluster of cfg. The library's
// admin signs its requests only once something registers its ACL hook,
// which CreateTopic does not do, and it takes the broker's refusal of an
// unsigned request for success; so the hook is registered here.
func openAdmin(cfg Config) (admin.Admin, error) {
	opts := []admin.AdminOption{admin.WithResolver(primitive.NewPassthroughResolver(cfg.NameServers))}
	if cfg.AccessKey == "" {
		return admin.NewAdmin(opts...)
	}
	creds := primitive.Credentials{AccessKey: cfg.AccessKey, SecretKey: cfg.SecretKey}
	adm, err := admin.NewAdmin(append(opts, admin.WithCredentials(creds))...)
	if err != nil {
		return nil, err
	}
	c, err := adminClient(adm)
	if err == nil {
		err = c.registerACL()
	}
	if err != nil {
		_ = adm.Close()
		return nil, fmt.Errorf("rocketmq-client-go is not the version mqrpc was built for: %w", err)
	}
	return adm, nil
}
