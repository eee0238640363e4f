package rocketmq

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sync/atomic"
	"time"

	"github.com/apache/rocketmq-client-go/v2/consumer"

	"github.com/mqrpc/mqrpc/runtime"
)

var _ runtime.FanoutTransport = (*Transport)(nil)

// SubscribeBroadcast consumes topic with a push consumer of group in
// broadcasting mode: every member of the group gets every message. A new
// member starts at the end of each queue, so it gets only the messages
// stored after it joined; a message the handler fails is not delivered
// again (the library drops it, as RocketMQ does in broadcasting mode).
//
// A broadcasting consumer keeps its offsets in a local file, not on the
// broker, under the library's directory (the environment variable
// rocketmq.client.localOffsetStoreDir, or $HOME/.rocketmq_client_go), in a
// directory named after the transport's client id, which is new for every
// transport. The file is removed when the subscription stops; a process
// that is killed leaves it behind (a few hundred bytes). The broker keeps
// only the group's name, one per service, as for any consumer group.
//
// One transport can be only one member of a group: two servers that
// answer the fan-out calls of one service need a transport each.
func (t *Transport) SubscribeBroadcast(topic, group string, h runtime.MessageHandler) (runtime.Subscription, error) {
	sub, err := t.subscribe(topic, group, h, broadcast)
	if err != nil {
		return nil, err
	}
	return &broadcastSub{Subscription: sub, offsets: filepath.Join(localOffsetDir(), group, t.clientID)}, nil
}

func broadcastConsumerOptions() []consumer.Option {
	return []consumer.Option{
		consumer.WithConsumerModel(consumer.BroadCasting),
		// A member answers the calls sent while it is a member, not
		// those stored before it joined.
		consumer.WithConsumeFromWhere(consumer.ConsumeFromLastOffset),
	}
}

// createRetryTopic creates the retry topic of group, which a consumer of
// kind hands failed messages back to; a broadcasting consumer hands none
// back and gets none, so that no topic is left on the broker for it.
func (t *Transport) createRetryTopic(group string, kind consumerKind) error {
	if kind == broadcast {
		return nil
	}
	return t.CreateTopic(retryTopicPrefix + group)
}

// broadcastSub removes its local offset file when it stops.
type broadcastSub struct {
	runtime.Subscription
	offsets string // directory of the consumer's offset file
}

func (s *broadcastSub) Stop() error {
	err := s.Subscription.Stop()
	// The consumer has persisted its offsets as it shut down. No later
	// consumer reads them: the next one has another client id.
	if rmErr := os.RemoveAll(s.offsets); rmErr != nil {
		err = errors.Join(err, rmErr)
	}
	_ = os.Remove(filepath.Dir(s.offsets)) // the group's directory, when empty
	return err
}

// localOffsetDir is where rocketmq-client-go keeps the offsets of
// broadcasting consumers (consumer/offset_store.go), which file it names
// <dir>/<group>/<client id>/offset.json.
func localOffsetDir() string {
	if d := os.Getenv("rocketmq.client.localOffsetStoreDir"); d != "" {
		return d
	}
	return filepath.Join(os.Getenv("HOME"), ".rocketmq_client_go")
}

// Members returns how many consumers of group the brokers know: the union
// of the consumer id lists the masters of the cluster report for it (each
// member heartbeats to every broker). A group no broker knows has none.
func (t *Transport) Members(ctx context.Context, topic, group string) (int, error) {
	if t.isClosed() {
		return 0, runtime.ErrClosed
	}
	brokers, err := t.brokers()
	if err != nil {
		return 0, err
	}
	addrs := make([]string, 0, len(brokers))
	for _, addr := range brokers {
		addrs = append(addrs, addr)
	}
	slices.Sort(addrs)
	ids := make(map[string]bool)
	var errs []error
	for _, addr := range addrs {
		list, err := t.client.consumerIDs(ctx, addr, group)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, id := range list {
			ids[id] = true
		}
	}
	if len(errs) == len(addrs) {
		return 0, errors.Join(errs...)
	}
	return len(ids), nil
}

// Request codes and response codes of RocketMQ's remoting protocol.
const (
	codeGetConsumerListByGroup = int16(38) // GET_CONSUMER_LIST_BY_GROUP
	resSuccess                 = int16(0)
	resSystemError             = int16(1) // a broker answers it for a group it does not know
)

// opaques numbers the requests consumerIDs sends. The library numbers its
// own from 1 up, and matches a response to its request by this number on
// one connection; ours start at a random point of the upper half of the
// range, which the library's count would take billions of requests to
// reach.
var opaques atomic.Int32

func init() { opaques.Store(1<<30 + rand.Int32N(1<<29)) }

// consumerIDs asks the broker at addr for the client ids of the consumers
// of group, with GET_CONSUMER_LIST_BY_GROUP: the library sends it only
// from an unexported method, so the request is built here, on the
// library's internal command type, reached by reflection.
func (c libClient) consumerIDs(ctx context.Context, addr, group string) ([]string, error) {
	invoke := c.v.MethodByName("InvokeSync")
	if !invoke.IsValid() || invoke.Type().NumIn() != 4 || invoke.Type().NumOut() != 2 {
		return nil, errors.New("rocketmq: rocketmq-client-go is not the version mqrpc was built for: client has no InvokeSync(ctx, addr, cmd, timeout)")
	}
	cmdType := invoke.Type().In(2) // *remote.RemotingCommand
	if cmdType.Kind() != reflect.Pointer || cmdType.Elem().Kind() != reflect.Struct {
		return nil, fmt.Errorf("rocketmq: rocketmq-client-go is not the version mqrpc was built for: InvokeSync takes %s", cmdType)
	}
	cmd := reflect.New(cmdType.Elem())
	set := func(name string, v any) error {
		f := cmd.Elem().FieldByName(name)
		if !f.IsValid() || !reflect.TypeOf(v).ConvertibleTo(f.Type()) {
			return fmt.Errorf("rocketmq: rocketmq-client-go is not the version mqrpc was built for: command has no field %s of %T", name, v)
		}
		f.Set(reflect.ValueOf(v).Convert(f.Type()))
		return nil
	}
	for _, e := range []error{
		set("Code", codeGetConsumerListByGroup),
		set("Version", int16(317)),
		set("Language", byte(9)), // GO
		set("Opaque", opaques.Add(1)),
		set("ExtFields", map[string]string{"consumerGroup": group}),
	} {
		if e != nil {
			return nil, e
		}
	}
	timeout := 3 * time.Second
	if d, ok := ctx.Deadline(); ok {
		timeout = min(timeout, time.Until(d))
	}
	out := invoke.Call([]reflect.Value{reflect.ValueOf(ctx), reflect.ValueOf(addr), cmd, reflect.ValueOf(timeout)})
	if err, _ := out[1].Interface().(error); err != nil {
		return nil, fmt.Errorf("rocketmq: consumers of %s at %s: %w", group, addr, err)
	}
	res := out[0]
	if res.IsNil() {
		return nil, fmt.Errorf("rocketmq: consumers of %s at %s: no response", group, addr)
	}
	code := res.Elem().FieldByName("Code").Int()
	body, _ := res.Elem().FieldByName("Body").Interface().([]byte)
	switch int16(code) {
	case resSuccess:
	case resSystemError:
		return nil, nil // "no consumer for this group"
	default:
		remark := res.Elem().FieldByName("Remark").String()
		return nil, fmt.Errorf("rocketmq: consumers of %s at %s: broker answered %d: %s", group, addr, code, remark)
	}
	var list struct {
		ConsumerIDList []string `json:"consumerIdList"`
	}
	if err := json.Unmarshal(body, &list); err != nil {
		return nil, fmt.Errorf("rocketmq: consumers of %s at %s: %w", group, addr, err)
	}
	return list.ConsumerIDList, nil
}
