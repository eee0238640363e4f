// Command calcpb runs the protobuf example: the Calculator of
// calcv1/calc.proto served and called through mqrpc.
//
//	go run ./examples/calcpb                         # server and client in one process, in memory
//	go run ./examples/calcpb -codec proto            # the same with protobuf binary bodies
//	go run ./examples/calcpb -transport rocketmq server   # serve over RocketMQ until interrupted
//	go run ./examples/calcpb -transport rocketmq client   # call that server
//
// Over RocketMQ it reaches the name server at -namesrv (default
// $MQRPC_NAMESRV or 127.0.0.1:9876); start one with make broker-up.
package main

//go:generate go run github.com/mqrpc/mqrpc/internal/protocrun --go_out=. --go_opt=paths=source_relative --mqrpc_out=. --mqrpc_opt=paths=source_relative calcv1/calc.proto

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/mqrpc/mqrpc/codec"
	"github.com/mqrpc/mqrpc/examples/calcpb/calcv1"
	"github.com/mqrpc/mqrpc/runtime"
	"github.com/mqrpc/mqrpc/runtime/memtransport"
	"github.com/mqrpc/mqrpc/runtime/rocketmq"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "calcpb:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("calcpb", flag.ContinueOnError)
	transport := fs.String("transport", "memory", "`memory` (server and client in this process) or rocketmq")
	namesrv := fs.String("namesrv", envOr("MQRPC_NAMESRV", "127.0.0.1:9876"), "RocketMQ name server `address`")
	codecName := fs.String("codec", "msgpack", "body `codec` the client uses: msgpack or proto")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cd, err := codec.NewRegistry().Lookup(*codecName)
	if err != nil {
		return err
	}
	opts := []runtime.CallOption{runtime.WithCodec(cd), runtime.WithTimeout(10 * time.Second)}
	mode := fs.Arg(0)
	switch *transport {
	case "memory":
		if mode != "" {
			return fmt.Errorf("mode %q needs -transport rocketmq", mode)
		}
		tr := memtransport.New()
		defer tr.Close()
		return both(tr, opts, stdout)
	case "rocketmq":
		tr, err := rocketmq.New(rocketmq.Config{NameServers: []string{*namesrv}})
		if err != nil {
			return err
		}
		defer tr.Close()
		switch mode {
		case "server":
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return serve(ctx, tr, stdout)
		case "client":
			return call(tr, opts, stdout)
		case "":
			return both(tr, opts, stdout)
		}
		return fmt.Errorf("unknown mode %q; want server, client or none", mode)
	}
	return fmt.Errorf("unknown transport %q; want memory or rocketmq", *transport)
}

// both serves and calls the calculator over one transport.
func both(tr runtime.Transport, opts []runtime.CallOption, stdout io.Writer) error {
	records := make(chan string, 1)
	srv := runtime.NewServer(tr)
	if err := calcv1.RegisterCalculator(srv, calcv1.Server{Records: records}); err != nil {
		return err
	}
	if err := srv.Start(); err != nil {
		return err
	}
	defer srv.GracefulStop()
	if err := call(tr, opts, stdout); err != nil {
		return err
	}
	select {
	case note := <-records:
		fmt.Fprintf(stdout, "server recorded %q\n", note)
	case <-time.After(10 * time.Second):
		return errors.New("the one-way Record call never reached the server")
	}
	return nil
}

func serve(ctx context.Context, tr runtime.Transport, stdout io.Writer) error {
	records := make(chan string, 16)
	srv := runtime.NewServer(tr)
	if err := calcv1.RegisterCalculator(srv, calcv1.Server{Records: records}); err != nil {
		return err
	}
	if err := srv.Start(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "serving %s on topic %s\n", calcv1.CalculatorServiceName, runtime.TopicFor(calcv1.CalculatorServiceName))
	for {
		select {
		case note := <-records:
			fmt.Fprintf(stdout, "recorded %q\n", note)
		case <-ctx.Done():
			srv.GracefulStop()
			return nil
		}
	}
}

// call calls every method once and prints what came back.
func call(tr runtime.Transport, opts []runtime.CallOption, stdout io.Writer) error {
	client, err := runtime.NewClient(tr)
	if err != nil {
		return err
	}
	defer client.Close()
	calc := calcv1.NewCalculatorClient(client, opts...)
	ctx := context.Background()

	sum, err := calc.Add(ctx, &calcv1.AddRequest{A: 7, B: 2})
	if err != nil {
		return fmt.Errorf("Add: %w", err)
	}
	div, err := calc.Div(ctx, &calcv1.DivRequest{A: 7, B: 2})
	if err != nil {
		return fmt.Errorf("Div: %w", err)
	}
	fmt.Fprintf(stdout, "7 + 2 = %d\n7 / 2 = %d remainder %d\n", sum.GetSum(), div.GetQuotient(), div.GetRemainder())
	_, err = calc.Div(ctx, &calcv1.DivRequest{A: 7})
	if runtime.CodeOf(err) != runtime.InvalidArgument {
		return fmt.Errorf("Div by zero: got %v, want an InvalidArgument error", err)
	}
	fmt.Fprintf(stdout, "7 / 0 fails: %v\n", err)
	if _, err := calc.Record(ctx, &calcv1.RecordRequest{Note: "7 and 2"}); err != nil {
		return fmt.Errorf("Record: %w", err)
	}
	return nil
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
