package memtransport_test

import (
	"context"
	"fmt"
	"log"

	"github.com/mqrpc/mqrpc/runtime"
	"github.com/mqrpc/mqrpc/runtime/memtransport"
)

// A broker keeps messages per topic like a queue: a message sent before
// any consumer subscribed is delivered when the first one does. Each
// transport stands for one process connected to the broker.
func ExampleBroker() {
	broker := memtransport.NewBroker()
	sender, consumer := broker.NewTransport(), broker.NewTransport()
	defer sender.Close()
	defer consumer.Close()

	ctx := context.Background()
	msg := &runtime.Message{Topic: "orders", Tag: "Placed", Body: []byte("order 17")}
	if err := sender.Send(ctx, msg); err != nil {
		log.Fatal(err)
	}

	got := make(chan *runtime.Message, 1)
	sub, err := consumer.Subscribe("orders", "billing", func(_ context.Context, m *runtime.Message) error {
		got <- m
		return nil // handled: not delivered again
	})
	if err != nil {
		log.Fatal(err)
	}
	defer sub.Stop()
	m := <-got
	fmt.Printf("%s: %s\n", m.Tag, m.Body)
	// Output: Placed: order 17
}
