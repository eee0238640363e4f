// The library's consumer shutdown closes a queue's message channel while a
// pull that returns during it may still send on it (consumer/consumer.go
// shutdown, process_queue.go putMessage): a data race in rocketmq-client-go
// that this test, which breaks a connection under a running consumer,
// makes the race detector see in some runs. It runs without -race, in
// make norace.

//go:build !race

package rocketmq

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/mqrpc/mqrpc/examples/calculator/calculator"
	"github.com/mqrpc/mqrpc/runtime"
	"github.com/mqrpc/mqrpc/runtime/rocketmq/rocketmqtest"
)

// A server whose connection to a broker breaks pulls that broker's queues
// again at once. The library closes the connection, but leaves the
// long-polling pulls in flight on it waiting out their 30 s timeout, and
// then waits 3 s more: without the transport's watch, a request stored on
// that broker meanwhile would wait for half a minute. (The same happens when
// the broker restarts; the brokerfaults suite kills and restarts brokers.)
func TestPullsResumeAfterBrokenConnection(t *testing.T) {
	// Subscribe must leave the topic on the one broker the test puts it.
	cfg := Config{NameServers: []string{rocketmqtest.NameServer(t)}, NoCreateTopics: true}
	open := func() *Transport {
		tr, err := New(cfg)
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		t.Cleanup(func() { _ = tr.Close() })
		return tr
	}
	server := open()
	brokers, err := server.brokers()
	if err != nil {
		t.Fatal(err)
	}
	name := slices.Sorted(maps.Keys(brokers))[0]
	addr := brokers[name]
	topic := fmt.Sprintf("mqrpc_recover_%d", time.Now().UnixNano())
	if err := server.createTopicOn(topic, map[string]string{name: addr}); err != nil {
		t.Fatal(err)
	}
	srv := runtime.NewServer(server, runtime.WithServiceTopic(calculator.CalculatorServiceName, topic))
	if err := calculator.RegisterCalculator(srv, calculator.Server{}); err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	client, err := runtime.NewClient(open(), runtime.WithCallOptions(runtime.WithTopic(topic)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Close() })
	calc := calculator.NewCalculatorClient(client)
	add := func(timeout time.Duration) error {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		sum, err := calc.Add(ctx, 40, 2)
		if err == nil && sum != 42 {
			return fmt.Errorf("Add(40, 2) = %d", sum)
		}
		return err
	}
	// After a call is served, the server's pulls of the topic's queues are
	// in flight again on its connection to the broker.
	if err := add(30 * time.Second); err != nil {
		t.Fatalf("call before the connection breaks: %v", err)
	}

	conns, err := server.client.connections()
	if err != nil {
		t.Fatal(err)
	}
	conn, ok := conns.Load(addr)
	if !ok {
		t.Fatalf("the server has no connection to broker %s (%s)", name, addr)
	}
	closer, ok := conn.(io.Closer)
	if !ok {
		t.Fatalf("connection is %T, which cannot be closed", conn)
	}
	if err := closer.Close(); err != nil {
		t.Fatal(err)
	}
	// Well under the 30 s a stuck pull waits.
	const patience = 5 * time.Second
	start := time.Now()
	if err := add(patience); err != nil {
		t.Fatalf("call after the server's connection to broker %s broke: %v", name, err)
	}
	t.Logf("a call sent as the connection broke succeeded in %v", time.Since(start).Round(time.Millisecond))
}
