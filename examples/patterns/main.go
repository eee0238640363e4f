// Command patterns runs the two call patterns that a queue gives and a
// socket does not, over the in-memory transport, with nothing else
// installed:
//
//	go run ./examples/patterns
//
// A fan-out call goes to every server instance of the calculator, and
// returns each one's answer. Ordered calls that share an order key run one
// at a time, in the order they were sent, while other keys run beside
// them. Over RocketMQ the same code needs only rocketmq.New in place of
// the in-memory broker.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/mqrpc/mqrpc/examples/calculator/calculator"
	"github.com/mqrpc/mqrpc/runtime"
	"github.com/mqrpc/mqrpc/runtime/memtransport"
)

func main() {
	if err := run(os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "patterns:", err)
		os.Exit(1)
	}
}

func run(out io.Writer) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := fanout(ctx, out); err != nil {
		return err
	}
	return ordered(ctx, out)
}

// serve starts a calculator server on its own transport of broker, and
// returns a function that stops it.
func serve(broker *memtransport.Broker, impl calculator.Calculator, opts ...runtime.ServerOption) (stop func(), err error) {
	tr := broker.NewTransport()
	srv := runtime.NewServer(tr, opts...)
	if err := calculator.RegisterCalculator(srv, impl); err != nil {
		return nil, err
	}
	if err := srv.Start(); err != nil {
		return nil, err
	}
	return func() { srv.GracefulStop(); _ = tr.Close() }, nil
}

// fanout asks three calculator servers at once.
func fanout(ctx context.Context, out io.Writer) error {
	broker := memtransport.NewBroker()
	for _, id := range []string{"calc-1", "calc-2", "calc-3"} {
		stop, err := serve(broker, calculator.Server{}, runtime.WithFanoutCalls(), runtime.WithInstanceID(id))
		if err != nil {
			return err
		}
		defer stop()
	}
	tr := broker.NewTransport()
	defer tr.Close()
	client, err := runtime.NewClient(tr)
	if err != nil {
		return err
	}
	defer client.Close()

	replies, err := calculator.NewCalculatorFanoutClient(client).Add(ctx, 2, 3)
	if err != nil {
		return err
	}
	slices.SortFunc(replies, func(a, b runtime.Reply[int]) int { return strings.Compare(a.Instance, b.Instance) })
	fmt.Fprintf(out, "fan-out Add(2, 3): %d servers answered\n", len(replies))
	for _, r := range replies {
		if r.Err != nil {
			fmt.Fprintf(out, "  %s: %v\n", r.Instance, r.Err)
			continue
		}
		fmt.Fprintf(out, "  %s: %d\n", r.Instance, r.Value)
	}
	return nil
}

// ordered sends ten calls for each of two accounts at once; the server
// runs one account's calls one at a time, and the accounts beside each
// other.
func ordered(ctx context.Context, out io.Writer) error {
	broker := memtransport.NewBroker()
	ledger := &ledger{running: map[string]int{}, most: map[string]int{}, calls: map[string]int{}}
	stop, err := serve(broker, ledger, runtime.WithOrderedCalls())
	if err != nil {
		return err
	}
	defer stop()
	tr := broker.NewTransport()
	defer tr.Close()
	client, err := runtime.NewClient(tr)
	if err != nil {
		return err
	}
	defer client.Close()

	accounts := []string{"account-A", "account-B"}
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for _, account := range accounts {
		calc := calculator.NewCalculatorClient(client, runtime.WithOrderKey(account))
		for i := range 10 {
			wg.Go(func() {
				// Add's first operand names the account to the server.
				if _, err := calc.Add(ctx, slices.Index(accounts, account), i); err != nil {
					errs <- err
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	for _, account := range accounts {
		fmt.Fprintf(out, "ordered: %s ran %d calls, at most %d at a time\n", account, ledger.calls[account], ledger.most[account])
	}
	fmt.Fprintf(out, "ordered: at most %d calls ran at a time across the accounts\n", ledger.mostAll)
	return nil
}

// ledger is a calculator whose Add stands for an operation on the account
// its first operand names; it records how many operations of each
// account, and of all, run at once.
type ledger struct {
	calculator.Server
	mu            sync.Mutex
	running, most map[string]int
	calls         map[string]int
	all, mostAll  int
}

func (l *ledger) Add(_ context.Context, account, n int) (int, error) {
	key := []string{"account-A", "account-B"}[account]
	l.mu.Lock()
	l.calls[key]++
	l.running[key]++
	l.all++
	l.most[key] = max(l.most[key], l.running[key])
	l.mostAll = max(l.mostAll, l.all)
	l.mu.Unlock()
	// Long enough that calls of different accounts overlap.
	time.Sleep(20 * time.Millisecond)
	l.mu.Lock()
	l.running[key]--
	l.all--
	l.mu.Unlock()
	return account + n, nil
}
