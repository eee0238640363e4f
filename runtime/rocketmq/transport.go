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
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/apache/rocketmq-client-go/v2/admin"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"

	"github.com/mqrpc/mqrpc/runtime"
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
