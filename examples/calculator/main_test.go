package main

import (
	"bytes"
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"

	"github.com/mqrpc/mqrpc/runtime/rocketmq/rocketmqtest"
)

func TestMain(m *testing.M) {
	if os.Getenv(envProgram) != "" {
		// This process is the calculator program; see startProgram.
		main()
		os.Exit(0)
	}
	if topic := os.Getenv(envServer); topic != "" {
		// This process is the server of a RocketMQ test; see startServer.
		if err := serveForTest(topic); err != nil {
			fmt.Fprintln(os.Stderr, "server process:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	goleak.VerifyTestMain(m, rocketmqtest.IgnoreLibraryGoroutines()...)
}

// The default mode serves and calls the calculator in one process and
// prints every result, including the refused division by zero.
func TestAllInOne(t *testing.T) {
	var out bytes.Buffer
	if err := run(nil, &out); err != nil {
		t.Fatal(err)
	}
	want := `7 + 2 = 9
7 - 2 = 5
7 * 2 = 14
7 / 2 = 3 remainder 1
7 / 0 fails: invalid_argument: division of 7 by zero
stats of operands: count 2, sum 9, min 2, max 7, mean 4.5
`
	if out.String() != want {
		t.Errorf("output:\n%s\nwant:\n%s", out.String(), want)
	}
}

func TestUnknownMode(t *testing.T) {
	if err := run([]string{"serve"}, &bytes.Buffer{}); err == nil {
		t.Error("an unknown mode was accepted")
	}
}
