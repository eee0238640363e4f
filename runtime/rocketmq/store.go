package rocketmq

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/apache/rocketmq-client-go/v2/admin"
	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"

	"github.com/mqrpc/mqrpc/runtime"
)

// Store reads what the brokers of a cluster have stored: the topics, and
// the request and reply messages of a time window. It is for operators'
// tools (the mqrpc command's list, find and replay); servers and clients
// do not need it.
//
// Messages are read with a pull consumer in the group InspectGroup,
// positioned by store time with the broker's SEARCH_OFFSET_BY_TIMESTAMP.
// The group never commits an offset and is assigned its queues rather than
// balanced, so stores read side by side without taking anything from one
// another or from the services' consumer groups, and the brokers keep one
// group for all of them.
type Store struct {
	cfg      Config
	consumer pullConsumer
	adm      admin.Admin
	invoke   invoker // broker requests the library has no API for (storequery.go)
	// lib serializes the library calls that are not safe side by side
	// (PullFrom writes fields of the consumer on every call, and
	// FetchPublishMessageQueues sorts the cached route in place): a Store
	// answers several questions at once (storequery.go).
	lib sync.Mutex
}

// pullConsumer is the part of the library's pull consumer we use.
type pullConsumer interface {
	Start() error
	Shutdown() error
	Assign(topic string, mqs []*primitive.MessageQueue) error
	OffsetForTimestamp(mq *primitive.MessageQueue, timestamp int64) (int64, error)
	PullFrom(ctx context.Context, mq *primitive.MessageQueue, offset int64, numbers int) (*primitive.PullResult, error)
}

// StoredMessage is a message as the broker stored it.
type StoredMessage struct {
	runtime.Message
	MsgID  string
	Broker string
	Queue  int
	Offset int64
	// Born is when the sender sent it, by the sender's clock; Stored when
	// the broker stored it, by the broker's.
	Born, Stored time.Time
	BornHost     string
}

// OpenStore connects a Store to the cluster of cfg.
func OpenStore(cfg Config) (*Store, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	installDefaultLogger()
	var b [8]byte
	_, _ = rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	opts := []consumer.Option{
		consumer.WithGroupName(InspectGroup),
		consumer.WithNsResolver(primitive.NewPassthroughResolver(cfg.NameServers)),
		consumer.WithInstance("mqrpc-inspect-" + id),
	}
	if cfg.AccessKey != "" {
		opts = append(opts, consumer.WithCredentials(primitive.Credentials{AccessKey: cfg.AccessKey, SecretKey: cfg.SecretKey}))
	}
	c, err := consumer.NewPullConsumer(opts...)
	if err != nil {
		return nil, fmt.Errorf("rocketmq: new pull consumer: %w", err)
	}
	s := &Store{cfg: cfg, consumer: c}
	// Assigned no queue, the consumer pulls nothing by itself; the reply
	// topic, which every cluster has, only lets it start.
	if err := c.Assign(s.ReplyTopic(), nil); err != nil {
		return nil, fmt.Errorf("rocketmq: assign: %w", err)
	}
	// A stored body flagged compressed is inflated by the store, with a
	// limit, not by the library (see inflate.go).
	lib, err := pullConsumerClient(c)
	if err == nil {
		err = lib.defuseBrokerRequests()
	}
	if err == nil {
		s.invoke, err = lib.invoker()
	}
	if err != nil {
		return nil, fmt.Errorf("rocketmq: rocketmq-client-go is not the version mqrpc was built for: %w", err)
	}
	if err := c.Start(); err != nil {
		return nil, fmt.Errorf("rocketmq: start pull consumer (is the name server at %v up, and the cluster named %q?): %w", cfg.NameServers, cfg.Cluster, err)
	}
	if err := lib.defusePullResults(); err != nil {
		_ = c.Shutdown()
		_ = lib.closeNameServer()
		return nil, fmt.Errorf("rocketmq: rocketmq-client-go is not the version mqrpc was built for: %w", err)
	}
	if s.adm, err = openAdmin(cfg); err != nil {
		_ = c.Shutdown()
		return nil, fmt.Errorf("rocketmq: admin client: %w", err)
	}
	return s, nil
}

// InspectGroup is the consumer group a Store reads in.
const InspectGroup = "mqrpc_inspect"

// ReplyTopic is the cluster's reply topic, where replies are stored.
func (s *Store) ReplyTopic() string { return replyTopicOf(s.cfg.Cluster) }

// Close releases the store's connections.
func (s *Store) Close() error {
	err := s.consumer.Shutdown()
	// The library's shutdown leaves the consumer client's name-server
	// connections open, as it does the producer's (see hook.go).
	if c, cerr := pullConsumerClient(s.consumer); cerr == nil {
		err = errors.Join(err, c.closeNameServer())
	} else {
		err = errors.Join(err, cerr)
	}
	err = errors.Join(err, s.adm.Close())
	if c, cerr := adminClient(s.adm); cerr == nil {
		err = errors.Join(err, c.closeNameServer())
	}
	return err
}

// ServiceTopics returns the topics that have an mqrpc server group
// (runtime.GroupFor(topic)) on some broker of the cluster, sorted: the
// topics mqrpc servers consume or have consumed.
func (s *Store) ServiceTopics(ctx context.Context) ([]string, error) {
	all, err := s.adm.FetchAllTopicList(ctx)
	if err != nil {
		return nil, fmt.Errorf("rocketmq: topic list: %w", err)
	}
	groups := map[string]bool{}
	for _, addr := range s.brokerAddrs(ctx) {
		w, err := s.adm.GetAllSubscriptionGroup(ctx, addr, 3*time.Second)
		if err != nil {
			return nil, fmt.Errorf("rocketmq: subscription groups of broker %s: %w", addr, err)
		}
		for g := range w.SubscriptionGroupTable {
			groups[g] = true
		}
	}
	var out []string
	for _, t := range all.TopicList {
		if groups[runtime.GroupFor(t)] && !strings.HasPrefix(t, "%") {
			out = append(out, t)
		}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// brokerAddrs returns the master address of every broker that hosts the
// cluster's reply topic, which is every broker of the cluster.
func (s *Store) brokerAddrs(ctx context.Context) []string {
	s.lib.Lock()
	qs, err := s.adm.FetchPublishMessageQueues(ctx, s.ReplyTopic())
	s.lib.Unlock()
	if err != nil {
		return nil
	}
	c, err := adminClient(s.adm)
	if err != nil {
		return nil
	}
	ns, err := c.nameServer()
	if err != nil {
		return nil
	}
	var addrs []string
	for _, q := range qs {
		if a := ns.FindBrokerAddrByName(q.BrokerName); a != "" && !slices.Contains(addrs, a) {
			addrs = append(addrs, a)
		}
	}
	return addrs
}

// Scan calls fn with every message of topic that the brokers stored in
// [since, until], queue by queue (so not in time order across queues). It
// stops at the first error fn returns, which Scan returns; ErrStopScan stops
// without an error.
func (s *Store) Scan(ctx context.Context, topic string, since, until time.Time, fn func(*StoredMessage) error) error {
	s.lib.Lock()
	qs, err := s.adm.FetchPublishMessageQueues(ctx, topic)
	s.lib.Unlock()
	if err != nil {
		return fmt.Errorf("rocketmq: route of topic %s: %w", topic, err)
	}
	qs = slices.Clone(qs)
	slices.SortFunc(qs, func(a, b *primitive.MessageQueue) int {
		return strings.Compare(fmt.Sprintf("%s/%04d", a.BrokerName, a.QueueId), fmt.Sprintf("%s/%04d", b.BrokerName, b.QueueId))
	})
	for _, q := range qs {
		if err := s.scanQueue(ctx, q, since, until, fn); err != nil {
			if errors.Is(err, ErrStopScan) {
				return nil
			}
			return err
		}
	}
	return nil
}

// ErrStopScan, returned by a Scan callback, ends the scan early.
var ErrStopScan = errors.New("rocketmq: stop scan")

func (s *Store) scanQueue(ctx context.Context, q *primitive.MessageQueue, since, until time.Time, fn func(*StoredMessage) error) error {
	q = &primitive.MessageQueue{Topic: q.Topic, BrokerName: q.BrokerName, QueueId: q.QueueId}
	from, err := s.consumer.OffsetForTimestamp(q, since.UnixMilli())
	if err != nil {
		return fmt.Errorf("rocketmq: offset of %s at %s: %w", queueName(q), since.Format(time.RFC3339), err)
	}
	// The offset of the first message stored after until bounds the pulls:
	// pulling at the end of a queue would wait for new messages.
	to, err := s.consumer.OffsetForTimestamp(q, until.UnixMilli()+1)
	if err != nil {
		return fmt.Errorf("rocketmq: offset of %s at %s: %w", queueName(q), until.Format(time.RFC3339), err)
	}
	for off := from; off < to; {
		if err := ctx.Err(); err != nil {
			return err
		}
		s.lib.Lock()
		res, err := s.consumer.PullFrom(ctx, q, off, int(min(to-off, 32)))
		s.lib.Unlock()
		if err != nil {
			return fmt.Errorf("rocketmq: pull %s at %d: %w", queueName(q), off, err)
		}
		if res.Status != primitive.PullFound || res.NextBeginOffset <= off {
			if res.NextBeginOffset > off {
				off = res.NextBeginOffset
				continue
			}
			return nil
		}
		for _, m := range res.GetMessageExts() {
			if m.QueueOffset >= to {
				return nil
			}
			stored := time.UnixMilli(m.StoreTimestamp)
			if stored.Before(since) || stored.After(until) {
				continue
			}
			if err := fn(storedMessage(m, q, s.cfg.MaxMessageSize)); err != nil {
				return err
			}
		}
		off = res.NextBeginOffset
	}
	return nil
}

func queueName(q *primitive.MessageQueue) string {
	return fmt.Sprintf("%s@%s#%d", q.Topic, q.BrokerName, q.QueueId)
}

// storedMessage returns m as stored in q, its body inflated up to limit
// bytes when it was flagged compressed, or else, when it does not inflate
// within limit, as stored.
func storedMessage(m *primitive.MessageExt, q *primitive.MessageQueue, limit int) *StoredMessage {
	props := m.GetProperties()
	body, err := deliveredRequestBody(m, limit)
	if err != nil {
		body = storedBody(m)
	}
	return &StoredMessage{
		Message: runtime.Message{
			Topic:      m.Topic,
			Tag:        m.GetTags(),
			Key:        m.GetKeys(),
			Properties: props,
			Body:       deliveredBody(props, body),
		},
		MsgID:    m.MsgId,
		Broker:   q.BrokerName,
		Queue:    q.QueueId,
		Offset:   m.QueueOffset,
		Born:     time.UnixMilli(m.BornTimestamp),
		Stored:   time.UnixMilli(m.StoreTimestamp),
		BornHost: m.BornHost,
	}
}

// pullConsumerClient returns the library client behind a pull consumer
// (*consumer.defaultPullConsumer, which embeds *defaultConsumer).
func pullConsumerClient(pc any) (libClient, error) {
	v := reflect.ValueOf(pc)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return libClient{}, fmt.Errorf("pull consumer is %T, not a struct pointer", pc)
	}
	dc, err := field(v.Elem(), "defaultConsumer")
	if err != nil {
		return libClient{}, err
	}
	if dc.Kind() != reflect.Pointer || dc.IsNil() {
		return libClient{}, errors.New("pull consumer has no defaultConsumer")
	}
	c, err := field(dc.Elem(), "client")
	if err != nil {
		return libClient{}, err
	}
	if c.Kind() != reflect.Interface || c.IsNil() {
		return libClient{}, errors.New("pull consumer has no client")
	}
	return libClient{v: c}, nil
}
