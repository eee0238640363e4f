package rocketmq_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mqrpc/mqrpc/runtime"
	"github.com/mqrpc/mqrpc/runtime/rocketmq"
	"github.com/mqrpc/mqrpc/runtime/rocketmq/rocketmqtest"
)

// The service of the dead-letter tests: Echo returns its argument.
const dlService = "rocketmq.test.Echo"

type dlArgs struct {
	_msgpack struct{} `msgpack:",as_array"`
	S        string
}

type dlEcho struct{ runs atomic.Int64 }

var dlDesc = runtime.ServiceDesc{
	ServiceName: dlService,
	Methods: []runtime.MethodDesc{{
		Name:    "Echo",
		NewArgs: func() any { return new(dlArgs) },
		Call: func(_ context.Context, impl any, args any) (any, error) {
			impl.(*dlEcho).runs.Add(1)
			return args, nil
		},
	}},
}

// diedHolding is a DedupStore in which every call id has been claimed, the
// moment before the server asks, by a server that then died: the state a
// shared store is in when a server was killed running the call.
type diedHolding struct {
	runtime.DedupStore
	mu  sync.Mutex
	ids []string
}

func (d *diedHolding) Claim(ctx context.Context, id string, exp time.Time) (runtime.ClaimState, error) {
	if _, err := d.DedupStore.Claim(ctx, id, exp); err != nil {
		return 0, err
	}
	d.mu.Lock()
	d.ids = append(d.ids, id)
	d.mu.Unlock()
	return d.DedupStore.Claim(ctx, id, exp)
}

// findDeadLetter waits until the dead-letter queue of group holds a
// message with call id, and returns it.
func findDeadLetter(t *testing.T, group, id string, since time.Time) *rocketmq.StoredMessage {
	t.Helper()
	store, err := rocketmq.OpenStore(rocketmq.Config{NameServers: []string{rocketmqtest.NameServer(t)}})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var found *rocketmq.StoredMessage
		err := store.Scan(context.Background(), rocketmq.DeadLetterTopic(group), since, time.Now(), func(m *rocketmq.StoredMessage) error {
			if m.Properties[runtime.PropCorrelationID] == id {
				found = m
				return rocketmq.ErrStopScan
			}
			return nil
		})
		if found != nil {
			return found
		}
		if time.Now().After(deadline) {
			t.Fatalf("no message with call id %s in %s within 30s (last scan: %v)", id, rocketmq.DeadLetterTopic(group), err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// A request whose call id was claimed by a server that died running it is
// not run again: the server sends it to the group's dead-letter queue, no
// reply is sent, and the caller gets DeadlineExceeded.
func TestClaimedRequestGoesToTheDeadLetterQueue(t *testing.T) {
	addr := rocketmqtest.NameServer(t)
	topic := fmt.Sprintf("mqrpc_dlq_%d", time.Now().UnixNano())
	group := runtime.GroupFor(topic)
	since := time.Now().Add(-time.Second)

	str := newTransport(t, rocketmq.Config{NameServers: []string{addr}})
	defer str.Close()
	store := &diedHolding{DedupStore: runtime.NewMemoryDedupStore(100)}
	impl := &dlEcho{}
	srv := runtime.NewServer(str, runtime.WithServiceTopic(dlService, topic), runtime.WithDedupStore(store))
	if err := srv.RegisterService(&dlDesc, impl); err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()

	ctr := newTransport(t, rocketmq.Config{NameServers: []string{addr}})
	defer ctr.Close()
	client, err := runtime.NewClient(ctr, runtime.WithCallOptions(runtime.WithTopic(topic)))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	start := time.Now()
	err = client.Invoke(ctx, runtime.FullMethodName(dlService, "Echo"), &dlArgs{S: "poison"}, new(dlArgs))
	if runtime.CodeOf(err) != runtime.DeadlineExceeded {
		t.Fatalf("dead-lettered call: %v, want DeadlineExceeded", err)
	}
	store.mu.Lock()
	ids := slices.Clone(store.ids)
	store.mu.Unlock()
	if len(ids) != 1 {
		t.Fatalf("the server claimed %d call ids, want 1", len(ids))
	}
	m := findDeadLetter(t, group, ids[0], since)
	if m.Properties[runtime.PropMethod] != runtime.FullMethodName(dlService, "Echo") {
		t.Errorf("dead letter has method %q", m.Properties[runtime.PropMethod])
	}
	if n := impl.runs.Load(); n != 0 {
		t.Errorf("handler ran %d times", n)
	}
	// Sent to the dead-letter queue, not back for redelivery: it came
	// once, and was dead-lettered once.
	if st := srv.Stats(); st.DeadLettered != 1 || st.Duplicates != 0 {
		t.Errorf("server dead-lettered %d, saw %d duplicates; want 1 and 0", st.DeadLettered, st.Duplicates)
	}
	t.Logf("dead letter %s in %s, stored %v after the call was sent", m.MsgID, m.Topic, m.Stored.Sub(start))
}

// A message a handler hands back is delivered again, with its attempt
// counted, up to Config.MaxRedeliveries times; handed back once more, it
// goes to the dead-letter queue.
func TestHandedBackPastMaxRedeliveriesGoesToTheDeadLetterQueue(t *testing.T) {
	addr := rocketmqtest.NameServer(t)
	topic := fmt.Sprintf("mqrpc_redeliver_%d", time.Now().UnixNano())
	group := runtime.GroupFor(topic)
	since := time.Now().Add(-time.Second)
	tr := newTransport(t, rocketmq.Config{NameServers: []string{addr}, MaxRedeliveries: 2})
	defer tr.Close()
	var mu sync.Mutex
	var attempts []int
	sub, err := tr.Subscribe(topic, group, func(_ context.Context, m *runtime.Message) error {
		mu.Lock()
		attempts = append(attempts, m.Attempt)
		mu.Unlock()
		return errors.New("handed back")
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Stop()
	const id = "handed-back-1"
	if err := tr.Send(context.Background(), &runtime.Message{Topic: topic, Tag: "T", Key: id,
		Properties: map[string]string{runtime.PropCorrelationID: id}, Body: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	findDeadLetter(t, group, id, since)
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(attempts, []int{1, 2, 3}) {
		t.Fatalf("delivered with attempts %v, want [1 2 3]: once and 2 redeliveries", attempts)
	}
}
