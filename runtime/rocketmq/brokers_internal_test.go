package rocketmq

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2/primitive"

	"github.com/mqrpc/mqrpc/examples/calcpb/calcv1"
	"github.com/mqrpc/mqrpc/examples/calculator/calculator"
	"github.com/mqrpc/mqrpc/internal/testenv"
	"github.com/mqrpc/mqrpc/runtime"
	"github.com/mqrpc/mqrpc/runtime/rocketmq/rocketmqtest"
)

// Two services of one cluster, each with its request topic on a different
// broker, called by several clients at once: every call gets its own
// answer, its request goes through its service's broker, and the replies
// go through both brokers.
func TestServicesOnBothBrokers(t *testing.T) {
	// Subscribe must leave each topic on the one broker the test puts it.
	cfg := Config{NameServers: []string{rocketmqtest.NameServer(t)}, NoCreateTopics: true}
	open := func() *Transport {
		tr, err := New(cfg)
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		t.Cleanup(func() { _ = tr.Close() })
		return tr
	}
	topics := open()
	brokers, err := topics.brokers()
	if err != nil {
		t.Fatal(err)
	}
	if len(brokers) < 2 {
		testenv.Missing(t, "cluster %s has the brokers %v; this test needs two: tools/rocketmq/broker.sh up --second", topics.cfg.Cluster, brokers)
	}
	names := slices.Sorted(maps.Keys(brokers))
	brokerA, brokerB := names[0], names[1]
	stamp := time.Now().UnixNano()
	topicA := fmt.Sprintf("mqrpc_on_%s_%d", brokerA, stamp)
	topicB := fmt.Sprintf("mqrpc_on_%s_%d", brokerB, stamp)
	if err := topics.createTopicOn(topicA, map[string]string{brokerA: brokers[brokerA]}); err != nil {
		t.Fatal(err)
	}
	if err := topics.createTopicOn(topicB, map[string]string{brokerB: brokers[brokerB]}); err != nil {
		t.Fatal(err)
	}

	// Service A is the Go-interface calculator, service B the protobuf one,
	// each served by a server of its own.
	carried := &requestBrokers{byKey: map[string]string{}}
	srvA := runtime.NewServer(carried.wrap(open()), runtime.WithServiceTopic(calculator.CalculatorServiceName, topicA))
	if err := calculator.RegisterCalculator(srvA, calculator.Server{}); err != nil {
		t.Fatal(err)
	}
	srvB := runtime.NewServer(carried.wrap(open()), runtime.WithServiceTopic(calcv1.CalculatorServiceName, topicB))
	if err := calcv1.RegisterCalculator(srvB, calcv1.Server{}); err != nil {
		t.Fatal(err)
	}
	for _, srv := range []*runtime.Server{srvA, srvB} {
		if err := srv.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(srv.Stop)
	}

	const clients, calls = 4, 50 // calls to each service, per client
	var (
		mu     sync.Mutex
		topic  = map[string]string{} // call id -> request topic
		failed []error
		wg     sync.WaitGroup
	)
	fail := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		failed = append(failed, err)
	}
	// recordID notes the id of each call and the topic its request went to.
	recordID := func(ctx context.Context, method string, args, results any, invoke runtime.Invoker) error {
		err := invoke(ctx, method, args, results)
		if info, ok := runtime.CallInfoFromContext(ctx); ok && info.ID != "" {
			mu.Lock()
			topic[info.ID] = info.Topic
			mu.Unlock()
		}
		return err
	}
	since := time.Now()
	for c := range clients {
		client, err := runtime.NewClient(open(), runtime.WithClientInterceptors(recordID),
			runtime.WithCallOptions(runtime.WithTimeout(60*time.Second)))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = client.Close() })
		calcA := calculator.NewCalculatorClient(client, runtime.WithTopic(topicA))
		calcB := calcv1.NewCalculatorClient(client, runtime.WithTopic(topicB))
		for i := range calls {
			a := c*1_000_000 + i
			wg.Go(func() {
				sum, err := calcA.Add(context.Background(), a, 1_000)
				switch {
				case err != nil:
					fail(fmt.Errorf("client %d, call %d to service A: %w", c, i, err))
				case sum != a+1_000:
					fail(fmt.Errorf("client %d, call %d to service A: %d, want %d", c, i, sum, a+1_000))
				}
			})
			wg.Go(func() {
				res, err := calcB.Add(context.Background(), &calcv1.AddRequest{A: int64(a), B: 2_000})
				switch {
				case err != nil:
					fail(fmt.Errorf("client %d, call %d to service B: %w", c, i, err))
				case res.GetSum() != int64(a+2_000):
					fail(fmt.Errorf("client %d, call %d to service B: %d, want %d", c, i, res.GetSum(), a+2_000))
				}
			})
		}
	}
	wg.Wait()
	for _, err := range failed {
		t.Error(err)
	}
	if t.Failed() {
		return
	}
	if len(topic) != 2*clients*calls {
		t.Fatalf("%d call ids recorded, want %d", len(topic), 2*clients*calls)
	}

	// Each request went through the broker of its service.
	want := map[string]string{topicA: brokerA, topicB: brokerB}
	for id, tp := range topic {
		if got := carried.broker(id); got != want[tp] {
			t.Errorf("request %s on %s came through broker %q, want %s", id, tp, got, want[tp])
		}
	}

	// The replies are stored on both brokers, servers spread them, and each
	// once: a broker that stores a reply but cannot push it (it does not
	// know the client) has the server send it again through another.
	store, err := OpenStore(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	var replyBrokers map[string][]string // call id -> brokers that stored a reply
	scan := func() error {
		replyBrokers = map[string][]string{}
		err := store.Scan(context.Background(), store.ReplyTopic(), since.Add(-time.Second), time.Now(), func(m *StoredMessage) error {
			if _, ours := topic[m.Key]; ours {
				replyBrokers[m.Key] = append(replyBrokers[m.Key], m.Broker)
			}
			return nil
		})
		if err == nil && len(replyBrokers) < len(topic) {
			// A broker indexes a stored message for reads a moment after
			// it pushed it.
			err = fmt.Errorf("%d of %d replies in the store", len(replyBrokers), len(topic))
		}
		return err
	}
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for err := scan(); err != nil; err = scan() {
		if time.Now().After(deadline) {
			t.Fatalf("scan the reply topic: %v", err)
		}
		<-tick.C
	}
	perBroker := map[string]int{}
	for id, bs := range replyBrokers {
		if len(bs) != 1 {
			t.Errorf("the reply to call %s was stored by %v, want one broker", id, bs)
			continue
		}
		perBroker[bs[0]]++
	}
	t.Logf("replies per broker: %v", perBroker)
	for _, b := range []string{brokerA, brokerB} {
		if perBroker[b] == 0 {
			t.Errorf("no reply went through broker %s: %v", b, perBroker)
		}
	}
}

// requestBrokers records the broker that carried each request to the
// servers of transports it wraps.
type requestBrokers struct {
	mu    sync.Mutex
	byKey map[string]string // call id -> broker name
}

func (r *requestBrokers) wrap(tr *Transport) runtime.Transport {
	return recordingTransport{Transport: tr, r: r}
}

func (r *requestBrokers) broker(key string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.byKey[key]
}

type recordingTransport struct {
	*Transport
	r *requestBrokers
}

func (t recordingTransport) Subscribe(topic, group string, h runtime.MessageHandler) (runtime.Subscription, error) {
	return t.Transport.Subscribe(topic, group, func(ctx context.Context, m *runtime.Message) error {
		if ext, ok := m.Origin.(*primitive.MessageExt); ok && ext.Queue != nil {
			t.r.mu.Lock()
			t.r.byKey[m.Key] = ext.Queue.BrokerName
			t.r.mu.Unlock()
		}
		return h(ctx, m)
	})
}
