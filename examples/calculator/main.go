// Command calculator runs the calculator example: a Calculator served and
// called through mqrpc.
//
//	go run ./examples/calculator                  # server and client in one process, in memory
//	go run ./examples/calculator server           # serve over RocketMQ until interrupted
//	go run ./examples/calculator client [a b]     # call a server over RocketMQ
//
// The server and client modes reach the broker's name server at
// $MQRPC_NAMESRV (default 127.0.0.1:9876); start one with make broker-up.
// -topic gives a server and its clients a request topic (and so a
// consumer group) of their own, apart from other calculator servers on
// the same broker.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/mqrpc/mqrpc/examples/calculator/calculator"
	"github.com/mqrpc/mqrpc/runtime"
	"github.com/mqrpc/mqrpc/runtime/memtransport"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "calculator:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("calculator", flag.ContinueOnError)
	namesrv := fs.String("namesrv", envOr("MQRPC_NAMESRV", "127.0.0.1:9876"), "RocketMQ name server `address` for the server and client modes")
	topic := fs.String("topic", runtime.TopicFor(calculator.CalculatorServiceName), "request `topic` of the Calculator service for the server and client modes")
	timeout := fs.Duration("timeout", 10*time.Second, "how long the client waits for each reply")
	if err := fs.Parse(args); err != nil {
		return err
	}
	mode, rest := "", fs.Args()
	if len(rest) > 0 {
		mode, rest = rest[0], rest[1:]
	}
	switch mode {
	case "":
		return inMemory(stdout)
	case "server":
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		return serve(ctx, *namesrv, *topic, stdout)
	case "client":
		a, b, err := operands(rest)
		if err != nil {
			return err
		}
		return callRemote(*namesrv, *topic, *timeout, a, b, stdout)
	}
	return fmt.Errorf("unknown mode %q; want server, client or none", mode)
}

// inMemory serves and calls the calculator in one process over an
// in-memory queue, so the example runs with nothing else installed.
func inMemory(stdout io.Writer) error {
	tr := memtransport.New()
	defer tr.Close()
	srv := runtime.NewServer(tr)
	if err := calculator.RegisterCalculator(srv, calculator.Server{}); err != nil {
		return err
	}
	if err := srv.Start(); err != nil {
		return err
	}
	defer srv.GracefulStop()
	client, err := runtime.NewClient(tr)
	if err != nil {
		return err
	}
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return exercise(ctx, calculator.NewCalculatorClient(client), 7, 2, stdout)
}

// exercise calls every method of calc and prints what came back. It sees
// only the Calculator interface: local and remote calculators look alike.
func exercise(ctx context.Context, calc calculator.Calculator, a, b int, stdout io.Writer) error {
	sum, err := calc.Add(ctx, a, b)
	if err != nil {
		return fmt.Errorf("Add: %w", err)
	}
	diff, err := calc.Sub(ctx, a, b)
	if err != nil {
		return fmt.Errorf("Sub: %w", err)
	}
	prod, err := calc.Mul(ctx, a, b)
	if err != nil {
		return fmt.Errorf("Mul: %w", err)
	}
	q, r, err := calc.Div(ctx, a, b)
	if err != nil {
		return fmt.Errorf("Div: %w", err)
	}
	fmt.Fprintf(stdout, "%d + %d = %d\n%d - %d = %d\n%d * %d = %d\n%d / %d = %d remainder %d\n", a, b, sum, a, b, diff, a, b, prod, a, b, q, r)

	_, _, err = calc.Div(ctx, a, 0)
	if runtime.CodeOf(err) != runtime.InvalidArgument {
		return fmt.Errorf("Div by zero: got %v, want an InvalidArgument error", err)
	}
	fmt.Fprintf(stdout, "%d / 0 fails: %v\n", a, err)

	s, err := calc.Stats(ctx, calculator.Series{Name: "operands", Values: []float64{float64(a), float64(b)}})
	if err != nil {
		return fmt.Errorf("Stats: %w", err)
	}
	fmt.Fprintf(stdout, "stats of %s: count %d, sum %g, min %g, max %g, mean %g\n", s.Name, s.Count, s.Sum, s.Min, s.Max, s.Mean)
	return nil
}

func operands(args []string) (int, int, error) {
	switch len(args) {
	case 0:
		return 7, 2, nil
	case 2:
		a, err := strconv.Atoi(args[0])
		if err != nil {
			return 0, 0, err
		}
		b, err := strconv.Atoi(args[1])
		return a, b, err
	}
	return 0, 0, errors.New("client takes two integers or none")
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
