//go:build brokerfaults

package faults_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/mqrpc/mqrpc/examples/calculator/calculator"
	"github.com/mqrpc/mqrpc/runtime"
	"github.com/mqrpc/mqrpc/runtime/rocketmq"
	"github.com/mqrpc/mqrpc/runtime/rocketmq/rocketmqtest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, rocketmqtest.IgnoreLibraryGoroutines()...)
}

var brokers = []string{"broker-a", "broker-b"}

// brokerScript runs tools/rocketmq/broker.sh with args.
func brokerScript(t *testing.T, args ...string) {
	t.Helper()
	script := os.Getenv("MQRPC_BROKER_SCRIPT")
	if script == "" {
		script = filepath.Join("..", "..", "..", "tools", "rocketmq", "broker.sh")
	}
	cmd := exec.Command(script, args...)
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("broker.sh %v: %v", args, err)
	}
}

// A client and server keep their transports while every broker of the
// cluster is killed and restarted: calls fail fast while the brokers are
// down, and succeed again soon after they are back, with no restart of
// either process.
func TestBrokersKilledAndRestarted(t *testing.T) {
	addr := rocketmqtest.NameServer(t)
	newTransport := func() *rocketmq.Transport {
		tr, err := rocketmq.New(rocketmq.Config{NameServers: []string{addr}})
		if err != nil {
			t.Fatalf("rocketmq.New: %v", err)
		}
		t.Cleanup(func() { _ = tr.Close() })
		return tr
	}
	topic := fmt.Sprintf("faults_calc_%d", time.Now().UnixNano())
	srv := runtime.NewServer(newTransport(), runtime.WithServiceTopic(calculator.CalculatorServiceName, topic))
	if err := calculator.RegisterCalculator(srv, calculator.Server{}); err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	client, err := runtime.NewClient(newTransport(), runtime.WithCallOptions(runtime.WithTopic(topic)))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	calc := calculator.NewCalculatorClient(client)

	add := func(timeout time.Duration) error {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		sum, err := calc.Add(ctx, 20, 22)
		if err == nil && sum != 42 {
			t.Fatalf("Add = %d, want 42", sum)
		}
		return err
	}
	if err := add(30 * time.Second); err != nil {
		t.Fatalf("call before the brokers die: %v", err)
	}

	restarted := false
	t.Cleanup(func() {
		if !restarted {
			for _, b := range brokers {
				brokerScript(t, "start-broker", b)
			}
		}
	})
	for _, b := range brokers {
		brokerScript(t, "stop-broker", b, "--kill")
	}

	const timeout = 10 * time.Second
	start := time.Now()
	err = add(timeout)
	if code := runtime.CodeOf(err); code != runtime.Unavailable {
		t.Fatalf("call with every broker down: %v (code %v), want Unavailable", err, code)
	}
	if took := time.Since(start); took > timeout/2 {
		t.Errorf("call with every broker down took %v to fail; it must fail fast, not at its %v deadline", took, timeout)
	}

	for _, b := range brokers {
		brokerScript(t, "start-broker", b)
	}
	restarted = true
	ready := time.Now()
	for {
		err := add(3 * time.Second)
		if err == nil {
			t.Logf("calls succeed again %v after the brokers are back", time.Since(ready).Round(time.Millisecond))
			break
		}
		if time.Since(ready) > 30*time.Second {
			t.Fatalf("calls still fail 30s after the brokers restarted: %v", err)
		}
	}
	if err := add(10 * time.Second); err != nil {
		t.Fatalf("call after recovery: %v", err)
	}
}
