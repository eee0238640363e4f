package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/mqrpc/mqrpc/examples/calculator/calculator"
	"github.com/mqrpc/mqrpc/runtime"
	"github.com/mqrpc/mqrpc/runtime/rocketmq"
)

// serve serves the calculator over RocketMQ on topic until ctx is done,
// then finishes the calls in progress.
func serve(ctx context.Context, namesrv, topic string, stdout io.Writer) error {
	tr, err := rocketmq.New(rocketmq.Config{NameServers: []string{namesrv}})
	if err != nil {
		return err
	}
	defer tr.Close()
	srv := runtime.NewServer(tr, runtime.WithServiceTopic(calculator.CalculatorServiceName, topic))
	if err := calculator.RegisterCalculator(srv, calculator.Server{}); err != nil {
		return err
	}
	if err := srv.Start(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "serving %s on topic %s via %s\n", calculator.CalculatorServiceName, topic, namesrv)
	<-ctx.Done()
	srv.GracefulStop()
	return nil
}

// callRemote calls a calculator server over RocketMQ on topic.
func callRemote(namesrv, topic string, timeout time.Duration, a, b int, stdout io.Writer) error {
	tr, err := rocketmq.New(rocketmq.Config{NameServers: []string{namesrv}})
	if err != nil {
		return err
	}
	defer tr.Close()
	client, err := runtime.NewClient(tr,
		runtime.WithCallOptions(runtime.WithTimeout(timeout), runtime.WithTopic(topic)),
		runtime.WithClientInterceptors(printLatency(stdout)))
	if err != nil {
		return err
	}
	defer client.Close()
	return exercise(context.Background(), calculator.NewCalculatorClient(client), a, b, stdout)
}

// printLatency is a client interceptor that prints how long each call took
// from the caller's side: encode, broker round trip, handler, decode.
func printLatency(w io.Writer) runtime.UnaryClientInterceptor {
	return func(ctx context.Context, method string, args, results any, invoke runtime.Invoker) error {
		start := time.Now()
		err := invoke(ctx, method, args, results)
		fmt.Fprintf(w, "  %-32s %8.2f ms\n", method, float64(time.Since(start).Microseconds())/1000)
		return err
	}
}
