package rocketmq_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/mqrpc/mqrpc/internal/testservice"
	"github.com/mqrpc/mqrpc/runtime"
	"github.com/mqrpc/mqrpc/runtime/rocketmq"
	"github.com/mqrpc/mqrpc/runtime/rocketmq/rocketmqtest"
	"github.com/mqrpc/mqrpc/runtime/transporttest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, rocketmqtest.IgnoreLibraryGoroutines()...)
}

func newTransport(t testing.TB, cfg rocketmq.Config) *rocketmq.Transport {
	t.Helper()
	if len(cfg.NameServers) == 0 {
		cfg.NameServers = []string{rocketmqtest.NameServer(t)}
	}
	tr, err := rocketmq.New(cfg)
	if err != nil {
		t.Fatalf("rocketmq.New: %v", err)
	}
	return tr
}

func TestConformance(t *testing.T) {
	addr := rocketmqtest.NameServer(t)
	transporttest.Run(t, transporttest.Config{
		NewTransport: func(t testing.TB) runtime.Transport {
			return newTransport(t, rocketmq.Config{NameServers: []string{addr}})
		},
		Calls:    2_000,
		Slack:    250 * time.Millisecond,
		Patience: 60 * time.Second,
	})
}

// With a single sender every send waits for the one before it; the suite's
// concurrent calls and replies must still all get through.
func TestConformanceOneSender(t *testing.T) {
	addr := rocketmqtest.NameServer(t)
	transporttest.Run(t, transporttest.Config{
		NewTransport: func(t testing.TB) runtime.Transport {
			return newTransport(t, rocketmq.Config{NameServers: []string{addr}, SendGoroutines: 1})
		},
		Calls:    200,
		Slack:    250 * time.Millisecond,
		Patience: 60 * time.Second,
	})
}

// A plain RocketMQ requester states its timeout as RIP-16's TTL; the server
// sees the deadline that implies, unless the request carries its own.
func TestTTLBecomesTheDeadline(t *testing.T) {
	tr := newTransport(t, rocketmq.Config{})
	defer tr.Close()
	topic := fmt.Sprintf("mqrpc_ttl_%d", time.Now().UnixNano())
	got := make(chan *runtime.Message, 3)
	sub, err := tr.Subscribe(topic, runtime.GroupFor(topic), func(_ context.Context, m *runtime.Message) error {
		got <- m
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Stop()
	own := strconv.FormatInt(time.Now().Add(time.Hour).UnixMilli(), 10)
	for key, props := range map[string]map[string]string{
		"ttl":    {"TTL": "5000"},
		"own":    {"TTL": "5000", runtime.PropDeadline: own},
		"no-ttl": {},
	} {
		m := &runtime.Message{Topic: topic, Key: key, Properties: props, Body: []byte("x")}
		if err := tr.Send(context.Background(), m); err != nil {
			t.Fatalf("Send %s: %v", key, err)
		}
	}
	for range 3 {
		var m *runtime.Message
		select {
		case m = <-got:
		case <-time.After(30 * time.Second):
			t.Fatal("a message was not delivered within 30 s")
		}
		d, ok := m.Properties[runtime.PropDeadline]
		switch m.Key {
		case "ttl":
			if want := strconv.FormatInt(m.SentAt.UnixMilli()+5000, 10); d != want {
				t.Errorf("deadline of a request with a 5 s TTL = %q, want its send time plus 5 s, %s", d, want)
			}
		case "own":
			if d != own {
				t.Errorf("deadline of a request with its own = %q, want %s", d, own)
			}
		default:
			if ok {
				t.Errorf("a message without TTL got a deadline %q", d)
			}
		}
	}
}

// Stores read in one consumer group; two of them reading at once must each
// see every stored message.
func TestStoresReadSideBySide(t *testing.T) {
	ns := rocketmqtest.NameServer(t)
	tr := newTransport(t, rocketmq.Config{NameServers: []string{ns}})
	defer tr.Close()
	topic := fmt.Sprintf("mqrpc_store_%d", time.Now().UnixNano())
	if err := tr.CreateTopic(topic); err != nil {
		t.Fatal(err)
	}
	since := time.Now().Add(-time.Minute)
	keys := []string{"a", "b", "c", "d", "e", "f"}
	for _, k := range keys {
		if err := tr.Send(context.Background(), &runtime.Message{Topic: topic, Key: k, Body: []byte(k)}); err != nil {
			t.Fatalf("Send %s: %v", k, err)
		}
	}
	var wg sync.WaitGroup
	for i := range 2 {
		wg.Go(func() {
			s, err := rocketmq.OpenStore(rocketmq.Config{NameServers: []string{ns}})
			if err != nil {
				t.Errorf("store %d: %v", i, err)
				return
			}
			defer s.Close()
			seen := map[string]bool{}
			err = s.Scan(context.Background(), topic, since, time.Now().Add(time.Minute), func(m *rocketmq.StoredMessage) error {
				seen[m.Key] = true
				return nil
			})
			if err != nil {
				t.Errorf("store %d: Scan: %v", i, err)
			}
			for _, k := range keys {
				if !seen[k] {
					t.Errorf("store %d did not see message %s", i, k)
				}
			}
		})
	}
	wg.Wait()
}

// A topic near RocketMQ's 127-byte limit gets a consumer group within the
// broker's 120-byte group limit, and its calls are served: a longer group
// is accepted by the broker and never delivered to.
func TestServiceOnALongTopicIsServed(t *testing.T) {
	addr := rocketmqtest.NameServer(t)
	stamp := strconv.FormatInt(time.Now().UnixNano(), 10)
	topic := "mqrpc_long_" + strings.Repeat("x", 127-len("mqrpc_long_")-len(stamp)) + stamp
	if len(topic) != 127 || len(runtime.GroupFor(topic)) > 120 {
		t.Fatalf("topic of %d bytes, group of %d", len(topic), len(runtime.GroupFor(topic)))
	}
	srvTr := newTransport(t, rocketmq.Config{NameServers: []string{addr}})
	defer srvTr.Close()
	srv := runtime.NewServer(srvTr, runtime.WithServiceTopic(testservice.ProbeServiceName, topic))
	if err := testservice.RegisterProbe(srv, testservice.Server{}); err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer srv.GracefulStop()
	cliTr := newTransport(t, rocketmq.Config{NameServers: []string{addr}})
	defer cliTr.Close()
	client, err := runtime.NewClient(cliTr)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	got, err := testservice.NewProbeClient(client, runtime.WithTopic(topic)).Echo(ctx, "long")
	if err != nil || got != "long" {
		t.Fatalf("Echo on a 127-byte topic = %q, %v", got, err)
	}
}
