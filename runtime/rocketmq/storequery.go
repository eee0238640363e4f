package rocketmq

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/rocketmq-client-go/v2/primitive"

	"github.com/mqrpc/mqrpc/runtime"
)

// The library's admin client answers none of the questions an operator
// asks of a queue (which servers consume it, how far behind they are,
// which messages carry a key), and its pull consumer knows only its own
// group's offsets. The brokers answer all of them with plain remoting
// requests, which the library's client sends with InvokeSync, a method of
// its internal client taking a command type of its internal package. So
// this file builds that command by reflection, checked when a Store opens
// (as hook.go does for the transport), and sends the four requests below;
// everything else it uses is the exported API.

// Broker request codes (RocketMQ's RequestCode) and the answer codes
// (ResponseCode) the store tells apart.
const (
	codeQueryMessage          = int16(12)
	codeQueryConsumerOffset   = int16(14)
	codeGetMaxOffset          = int16(30)
	codeGetConsumerConnection = int16(203)

	answerSuccess           = 0
	answerQueryNotFound     = 22
	answerConsumerNotOnline = 206
)

// brokerAnswer is a broker's answer to a remoting request.
type brokerAnswer struct {
	code   int
	remark string
	ext    map[string]string
	body   []byte
}

// invoker sends a remoting request with the given code and header fields
// to the broker at addr and returns its answer.
type invoker func(ctx context.Context, addr string, code int16, header map[string]string) (*brokerAnswer, error)

// invokeTimeout bounds each request; the brokers answer these from memory
// or their index files.
const invokeTimeout = 5 * time.Second

// opaqueSeq numbers the store's requests. A broker's answer is matched to
// its request by this number (the command's opaque) in a table shared with
// the library's own requests, which the library numbers upwards from 1 in
// a package counter we cannot reach; the store's numbers are negative, so
// the two never meet.
var opaqueSeq atomic.Int32

// invoker returns the function that sends remoting requests through the
// client, or an error when the client's InvokeSync or the command type is
// not the shape this file was written for.
func (c libClient) invoker() (invoker, error) {
	m := c.v.MethodByName("InvokeSync")
	ctxType, errType := reflect.TypeFor[context.Context](), reflect.TypeFor[error]()
	if !m.IsValid() {
		return nil, errors.New("client has no InvokeSync method")
	}
	ft := m.Type()
	if ft.NumIn() != 4 || ft.In(0) != ctxType || ft.In(1).Kind() != reflect.String || ft.In(2).Kind() != reflect.Pointer ||
		ft.In(3) != reflect.TypeFor[time.Duration]() || ft.NumOut() != 2 || ft.Out(0) != ft.In(2) || ft.Out(1) != errType {
		return nil, fmt.Errorf("client's InvokeSync is %s, want func(context.Context, string, *RemotingCommand, time.Duration) (*RemotingCommand, error)", ft)
	}
	cmd := ft.In(2).Elem()
	for name, kind := range map[string]reflect.Kind{
		"Code": reflect.Int16, "Language": reflect.Uint8, "Version": reflect.Int16, "Opaque": reflect.Int32,
		"Flag": reflect.Int32, "Remark": reflect.String, "ExtFields": reflect.Map, "Body": reflect.Slice,
	} {
		if f, ok := cmd.FieldByName(name); !ok || f.Type.Kind() != kind {
			return nil, fmt.Errorf("RemotingCommand has no %s field of kind %s", name, kind)
		}
	}
	if f, _ := cmd.FieldByName("ExtFields"); f.Type != reflect.TypeFor[map[string]string]() {
		return nil, errors.New("RemotingCommand's ExtFields is not a map[string]string")
	}
	if f, _ := cmd.FieldByName("Body"); f.Type != reflect.TypeFor[[]byte]() {
		return nil, errors.New("RemotingCommand's Body is not a []byte")
	}
	return func(ctx context.Context, addr string, code int16, header map[string]string) (*brokerAnswer, error) {
		req := reflect.New(cmd)
		e := req.Elem()
		e.FieldByName("Code").SetInt(int64(code))
		// RocketMQ's codes for a Go client and the protocol version the
		// library's own commands carry (remote.NewRemotingCommand).
		e.FieldByName("Language").SetUint(9)
		e.FieldByName("Version").SetInt(317)
		e.FieldByName("Opaque").SetInt(-int64(opaqueSeq.Add(1)&math.MaxInt32) - 1)
		e.FieldByName("ExtFields").Set(reflect.ValueOf(header))
		out := m.Call([]reflect.Value{reflect.ValueOf(ctx), reflect.ValueOf(addr), req, reflect.ValueOf(invokeTimeout)})
		if err, _ := out[1].Interface().(error); err != nil {
			return nil, err
		}
		if out[0].IsNil() {
			return nil, fmt.Errorf("no answer from broker %s", addr)
		}
		a := out[0].Elem()
		return &brokerAnswer{
			code:   int(a.FieldByName("Code").Int()),
			remark: a.FieldByName("Remark").String(),
			ext:    a.FieldByName("ExtFields").Interface().(map[string]string),
			body:   a.FieldByName("Body").Bytes(),
		}, nil
	}, nil
}

// queueBroker is a queue of a topic and the address of its broker's master.
type queueBroker struct {
	q    *primitive.MessageQueue
	addr string
}

// topicQueues returns the queues of topic with their brokers' addresses.
func (s *Store) topicQueues(ctx context.Context, topic string) ([]queueBroker, error) {
	s.lib.Lock()
	qs, err := s.adm.FetchPublishMessageQueues(ctx, topic)
	s.lib.Unlock()
	if err != nil {
		return nil, fmt.Errorf("rocketmq: route of topic %s: %w", topic, err)
	}
	c, err := adminClient(s.adm)
	if err != nil {
		return nil, err
	}
	ns, err := c.nameServer()
	if err != nil {
		return nil, err
	}
	var out []queueBroker
	for _, q := range qs {
		addr := ns.FindBrokerAddrByName(q.BrokerName)
		if addr == "" {
			return nil, fmt.Errorf("rocketmq: no address for broker %s of topic %s", q.BrokerName, topic)
		}
		out = append(out, queueBroker{&primitive.MessageQueue{Topic: q.Topic, BrokerName: q.BrokerName, QueueId: q.QueueId}, addr})
	}
	slices.SortFunc(out, func(a, b queueBroker) int {
		return strings.Compare(fmt.Sprintf("%s/%04d", a.q.BrokerName, a.q.QueueId), fmt.Sprintf("%s/%04d", b.q.BrokerName, b.q.QueueId))
	})
	return out, nil
}

// KeyQueryLimit is the most messages a broker returns for one key query
// (its maxMsgsNumBatch, 64 by default); a broker that returns this many
// may have more.
const KeyQueryLimit = 64

// ErrKeyQueryIncomplete is returned by QueryKey when a broker returned
// KeyQueryLimit messages for the key: there may be more than it returned.
var ErrKeyQueryIncomplete = errors.New("rocketmq: the broker index returned as many messages as it returns at most")

// QueryKey returns the messages of topic that carry key among their keys
// and were stored in [since, until], oldest first, found by the brokers'
// index of message keys (RocketMQ's QUERY_MESSAGE) rather than by reading
// the window. The index is by hash, so each hit is checked. It returns
// ErrKeyQueryIncomplete, with no messages, when a broker may hold more hits
// than one query returns: the caller then reads the window instead.
func (s *Store) QueryKey(ctx context.Context, topic, key string, since, until time.Time) ([]*StoredMessage, error) {
	qbs, err := s.topicQueues(ctx, topic)
	if err != nil {
		return nil, err
	}
	brokers := map[string]string{} // name -> address
	for _, qb := range qbs {
		brokers[qb.q.BrokerName] = qb.addr
	}
	var out []*StoredMessage
	for _, name := range slices.Sorted(maps.Keys(brokers)) {
		a, err := s.invoke(ctx, brokers[name], codeQueryMessage, map[string]string{
			"topic": topic, "key": key, "maxNum": strconv.Itoa(KeyQueryLimit),
			"beginTimestamp": strconv.FormatInt(since.UnixMilli(), 10),
			"endTimestamp":   strconv.FormatInt(until.UnixMilli(), 10),
		})
		if err != nil {
			return nil, fmt.Errorf("rocketmq: query key %q on broker %s: %w", key, name, err)
		}
		switch a.code {
		case answerSuccess:
		case answerQueryNotFound:
			continue
		default:
			return nil, fmt.Errorf("rocketmq: query key %q on broker %s: code %d: %s", key, name, a.code, a.remark)
		}
		hits := primitive.DecodeMessage(uncompressedFlags(a.body))
		if len(hits) >= KeyQueryLimit {
			return nil, ErrKeyQueryIncomplete
		}
		for _, h := range hits {
			stored := time.UnixMilli(h.StoreTimestamp)
			if h.Topic != topic || stored.Before(since) || stored.After(until) || !slices.Contains(strings.Fields(h.GetKeys()), key) {
				continue
			}
			// The hit is read again through the store's consumer, which
			// inflates a compressed body within the store's limit.
			q := &primitive.MessageQueue{Topic: topic, BrokerName: name, QueueId: h.Queue.QueueId}
			m, err := s.readAt(ctx, q, h.QueueOffset)
			if err != nil {
				return nil, err
			}
			if m != nil {
				out = append(out, m)
			}
		}
	}
	slices.SortStableFunc(out, func(a, b *StoredMessage) int { return a.Stored.Compare(b.Stored) })
	return out, nil
}

// uncompressedFlags clears the compressed flag of every message encoded in
// b, a QUERY_MESSAGE answer, so that the library's decoder does not
// inflate their bodies, without a limit, only for the store to drop them:
// the store reads each hit again (see QueryKey).
func uncompressedFlags(b []byte) []byte {
	// Each message starts with its total size; its sysFlag is the int32
	// after size, magic, CRC, queue id, flag, queue and commit-log offsets.
	const sysFlagAt = 4 + 4 + 4 + 4 + 4 + 8 + 8
	b = slices.Clone(b)
	for i := 0; i+sysFlagAt+4 <= len(b); {
		size := int(binary.BigEndian.Uint32(b[i:]))
		if size <= 0 {
			break
		}
		f := binary.BigEndian.Uint32(b[i+sysFlagAt:])
		binary.BigEndian.PutUint32(b[i+sysFlagAt:], f&^uint32(primitive.FlagCompressed))
		i += size
	}
	return b
}

// readAt returns the message at offset of q, or nil when the queue no
// longer holds it.
func (s *Store) readAt(ctx context.Context, q *primitive.MessageQueue, offset int64) (*StoredMessage, error) {
	s.lib.Lock()
	res, err := s.consumer.PullFrom(ctx, q, offset, 1)
	s.lib.Unlock()
	if err != nil {
		return nil, fmt.Errorf("rocketmq: pull %s at %d: %w", queueName(q), offset, err)
	}
	if res.Status != primitive.PullFound {
		return nil, nil
	}
	for _, m := range res.GetMessageExts() {
		if m.QueueOffset == offset {
			return storedMessage(m, q, s.cfg.MaxMessageSize), nil
		}
	}
	return nil, nil
}

// Consumer is a client connected to the brokers in a consumer group.
type Consumer struct {
	ClientID string `json:"client_id"`
	Addr     string `json:"addr"`
	Language string `json:"language,omitempty"`
	Version  int    `json:"version,omitempty"`
}

// GroupConsumers returns the clients in group that some broker of the
// cluster counts as connected (they send it heartbeats), sorted by client
// id: the live servers of the group's topic.
func (s *Store) GroupConsumers(ctx context.Context) func(group string) ([]Consumer, error) {
	addrs := s.brokerAddrs(ctx)
	return func(group string) ([]Consumer, error) {
		seen := map[string]Consumer{}
		for _, addr := range addrs {
			a, err := s.invoke(ctx, addr, codeGetConsumerConnection, map[string]string{"consumerGroup": group})
			if err != nil {
				return nil, fmt.Errorf("rocketmq: consumers of group %s on broker %s: %w", group, addr, err)
			}
			switch a.code {
			case answerSuccess:
			case answerConsumerNotOnline:
				continue
			default:
				return nil, fmt.Errorf("rocketmq: consumers of group %s on broker %s: code %d: %s", group, addr, a.code, a.remark)
			}
			var conns struct {
				ConnectionSet []struct {
					ClientID   string `json:"clientId"`
					ClientAddr string `json:"clientAddr"`
					Language   string `json:"language"`
					Version    int    `json:"version"`
				} `json:"connectionSet"`
			}
			if err := json.Unmarshal(a.body, &conns); err != nil {
				return nil, fmt.Errorf("rocketmq: consumers of group %s on broker %s: %w", group, addr, err)
			}
			for _, c := range conns.ConnectionSet {
				seen[c.ClientID] = Consumer{ClientID: c.ClientID, Addr: c.ClientAddr, Language: c.Language, Version: c.Version}
			}
		}
		out := make([]Consumer, 0, len(seen))
		for _, id := range slices.Sorted(maps.Keys(seen)) {
			out = append(out, seen[id])
		}
		return out, nil
	}
}

// Backlog is how far a consumer group is behind on a topic.
type Backlog struct {
	// Messages is the number of messages stored and not yet consumed by
	// the group: over the topic's queues, the broker's max offset minus the
	// offset the group committed (0 when it committed none, as the group
	// of an mqrpc server then starts from the first message).
	Messages int64 `json:"messages"`
	// Oldest is the store time of the oldest message not yet consumed,
	// zero when there is none, and OldestMethod the method it calls
	// (runtime.PropMethod), which names the service of a topic whose
	// servers are down.
	Oldest       time.Time `json:"oldest,omitzero"`
	OldestMethod string    `json:"oldest_method,omitempty"`
}

// Backlog returns the backlog of group on topic. The offsets a group
// commits trail its consumption by up to the library's commit interval
// (5 s), so a message handled a moment ago can still count.
func (s *Store) Backlog(ctx context.Context, topic, group string) (Backlog, error) {
	qbs, err := s.topicQueues(ctx, topic)
	if err != nil {
		return Backlog{}, err
	}
	var b Backlog
	for _, qb := range qbs {
		qid := strconv.Itoa(qb.q.QueueId)
		maxOff, err := s.offset(ctx, qb, codeGetMaxOffset, map[string]string{"topic": topic, "queueId": qid})
		if err != nil {
			return Backlog{}, err
		}
		committed, err := s.offset(ctx, qb, codeQueryConsumerOffset, map[string]string{"consumerGroup": group, "topic": topic, "queueId": qid})
		if err != nil {
			return Backlog{}, err
		}
		committed = max(committed, 0)
		if maxOff <= committed {
			continue
		}
		b.Messages += maxOff - committed
		// The first message not consumed; messages before the queue's
		// first one still stored are gone, so the pull skips to it.
		m, err := s.readAt(ctx, qb.q, committed)
		if err == nil && m == nil {
			s.lib.Lock()
			first, ferr := s.consumer.OffsetForTimestamp(qb.q, 0)
			s.lib.Unlock()
			if ferr == nil && first > committed && first < maxOff {
				m, err = s.readAt(ctx, qb.q, first)
			}
		}
		if err != nil {
			return Backlog{}, err
		}
		if m != nil && (b.Oldest.IsZero() || m.Stored.Before(b.Oldest)) {
			b.Oldest, b.OldestMethod = m.Stored, m.Properties[runtime.PropMethod]
		}
	}
	return b, nil
}

// offset sends a request whose answer is an offset; a group's offset that
// the broker does not have is -1.
func (s *Store) offset(ctx context.Context, qb queueBroker, code int16, header map[string]string) (int64, error) {
	a, err := s.invoke(ctx, qb.addr, code, header)
	if err != nil {
		return 0, fmt.Errorf("rocketmq: offsets of %s: %w", queueName(qb.q), err)
	}
	switch {
	case a.code == answerQueryNotFound && code == codeQueryConsumerOffset:
		return -1, nil
	case a.code != answerSuccess:
		return 0, fmt.Errorf("rocketmq: offsets of %s: code %d: %s", queueName(qb.q), a.code, a.remark)
	}
	n, err := strconv.ParseInt(a.ext["offset"], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("rocketmq: offsets of %s: answer has no offset: %v", queueName(qb.q), a.ext)
	}
	return n, nil
}

// ServiceHealth is what the brokers know of the servers of a topic.
type ServiceHealth struct {
	Topic     string     `json:"topic"`
	Group     string     `json:"group"`
	Instances []Consumer `json:"instances"`
	Backlog   Backlog    `json:"backlog"`
}

// Health returns the health of each topic's server group
// (runtime.GroupFor): its live instances and its backlog, in the order of
// topics. Topics are asked about side by side: a cluster can have
// hundreds.
func (s *Store) Health(ctx context.Context, topics []string) ([]ServiceHealth, error) {
	consumers := s.GroupConsumers(ctx)
	out := make([]ServiceHealth, len(topics))
	errs := make([]error, len(topics))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for i, t := range topics {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			h := ServiceHealth{Topic: t, Group: runtime.GroupFor(t)}
			if h.Instances, errs[i] = consumers(h.Group); errs[i] != nil {
				return
			}
			h.Backlog, errs[i] = s.Backlog(ctx, t, h.Group)
			out[i] = h
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}
