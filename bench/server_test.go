package bench

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"
	"google.golang.org/grpc"

	"github.com/mqrpc/mqrpc/bench/echo"
	"github.com/mqrpc/mqrpc/examples/calculator/calculator"
	"github.com/mqrpc/mqrpc/runtime"
	"github.com/mqrpc/mqrpc/runtime/rocketmq"
)

// serve runs every server of the benchmarks in this (child) process until
// stdin closes: the generated Echo and Calculator servers over RocketMQ,
// the hand-written RocketMQ replier and the gRPC server.
func serve(id string) error {
	ns := os.Getenv(envNameServer)
	t := topicsOf(id)

	tr, err := rocketmq.New(rocketmq.Config{NameServers: []string{ns}, Group: "bench_" + id + "_server"})
	if err != nil {
		return err
	}
	defer tr.Close()
	srv := runtime.NewServer(tr,
		runtime.WithServiceTopic(echo.EchoServiceName, t.echo),
		runtime.WithServiceTopic(calculator.CalculatorServiceName, t.calc))
	if err := echo.RegisterEcho(srv, echo.Server{}); err != nil {
		return err
	}
	if err := calculator.RegisterCalculator(srv, calculator.Server{}); err != nil {
		return err
	}
	if err := srv.Start(); err != nil {
		return err
	}
	defer srv.Stop()

	stopRaw, err := rawReplier(ns, t.raw, "bench_"+id+"_raw")
	if err != nil {
		return err
	}
	defer stopRaw()

	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	gs := grpc.NewServer(grpc.ForceServerCodec(bytesCodec{}))
	gs.RegisterService(&grpcEchoDesc, echo.Server{})
	go func() { _ = gs.Serve(lis) }()
	defer gs.Stop()

	fmt.Println("ready", lis.Addr().String())
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
	}
	return nil
}

// rawReplier is the replier a user of rocketmq-client-go writes without
// mqrpc: a push consumer that sends each request's body back as the reply.
// consumer.CreateReplyMessage loses the body (upstream #890, #1046), so
// the reply is built by hand as RocketMQ's Java MessageUtil builds it.
func rawReplier(ns, topic, group string) (func(), error) {
	p, err := producer.NewDefaultProducer(
		producer.WithNsResolver(primitive.NewPassthroughResolver([]string{ns})),
		producer.WithGroupName(group+"_replier"),
		producer.WithInstanceName(group+"_replier"),
		producer.WithRetry(2))
	if err != nil {
		return nil, err
	}
	if err := p.Start(); err != nil {
		return nil, err
	}
	c, err := consumer.NewPushConsumer(
		consumer.WithNsResolver(primitive.NewPassthroughResolver([]string{ns})),
		consumer.WithGroupName(group),
		consumer.WithInstance(group),
		consumer.WithConsumeFromWhere(consumer.ConsumeFromFirstOffset),
		// As many handler goroutines as the mqrpc server runs (64).
		consumer.WithConsumeGoroutineNums(runtime.DefaultMaxConcurrency),
	)
	if err != nil {
		return nil, err
	}
	err = c.Subscribe(topic, consumer.MessageSelector{}, func(ctx context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
		for _, m := range msgs {
			r := primitive.NewMessage(m.GetProperty(primitive.PropertyCluster)+"_REPLY_TOPIC", m.Body)
			r.WithProperty(primitive.PropertyMsgType, "reply")
			r.WithProperty(primitive.PropertyCorrelationID, m.GetProperty(primitive.PropertyCorrelationID))
			r.WithProperty(primitive.PropertyMessageReplyToClient, m.GetProperty(primitive.PropertyMessageReplyToClient))
			r.WithProperty(primitive.PropertyMessageTTL, m.GetProperty(primitive.PropertyMessageTTL))
			send := func() { _, _ = p.SendSync(context.Background(), r) }
			if len(m.Body) > 0 && m.Body[0] == echo.SlowMark {
				time.AfterFunc(echo.SlowDelay, send)
			} else {
				send()
			}
		}
		return consumer.ConsumeSuccess, nil
	})
	if err != nil {
		return nil, err
	}
	if err := c.Start(); err != nil {
		return nil, err
	}
	return func() { _ = c.Shutdown(); _ = p.Shutdown() }, nil
}
