// Command probeserver serves testservice.Probe over RocketMQ until it gets
// SIGTERM or SIGINT. Tests run it as a process of its own, built without
// the race detector, so that its memory can be read from the outside as an
// operator would.
//
//	probeserver -namesrv 127.0.0.1:9876 -topic probe_1 [-ordered] [-fanout] [-steplog FILE]
//
// It prints "serving" once it takes requests.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/mqrpc/mqrpc/internal/testservice"
	"github.com/mqrpc/mqrpc/runtime"
	"github.com/mqrpc/mqrpc/runtime/rocketmq"
)

func main() {
	namesrv := flag.String("namesrv", os.Getenv("MQRPC_NAMESRV"), "RocketMQ name server `address`")
	topic := flag.String("topic", runtime.TopicFor(testservice.ProbeServiceName), "request `topic`")
	ordered := flag.Bool("ordered", false, "serve ordered calls too (runtime.WithOrderedCalls)")
	stepLog := flag.String("steplog", "", "append a line for each Step call to `file`")
	fanout := flag.Bool("fanout", false, "answer fan-out calls too (runtime.WithFanoutCalls)")
	flag.Parse()
	var opts []runtime.ServerOption
	if *fanout {
		opts = append(opts, runtime.WithFanoutCalls())
	}
	if err := serve(*namesrv, *topic, *ordered, *stepLog, opts...); err != nil {
		fmt.Fprintln(os.Stderr, "probeserver:", err)
		os.Exit(1)
	}
}

func serve(namesrv, topic string, ordered bool, stepLog string, extra ...runtime.ServerOption) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	tr, err := rocketmq.New(rocketmq.Config{NameServers: []string{namesrv}})
	if err != nil {
		return err
	}
	defer tr.Close()
	opts := []runtime.ServerOption{runtime.WithServiceTopic(testservice.ProbeServiceName, topic)}
	if ordered {
		opts = append(opts, runtime.WithOrderedCalls())
	}
	opts = append(opts, extra...)
	impl := testservice.Server{}
	if stepLog != "" {
		f, err := os.OpenFile(stepLog, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			return err
		}
		defer f.Close()
		impl.StepLog = f
	}
	srv := runtime.NewServer(tr, opts...)
	if err := testservice.RegisterProbe(srv, impl); err != nil {
		return err
	}
	if err := srv.Start(); err != nil {
		return err
	}
	fmt.Println("serving")
	<-ctx.Done()
	srv.GracefulStop()
	return nil
}
