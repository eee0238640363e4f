package main

import (
	"bytes"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/mqrpc/mqrpc/runtime/rocketmq/rocketmqtest"
)

// Importing the RocketMQ client starts go-cache's janitor at init; it is
// not ours and lives as long as the process.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, rocketmqtest.IgnoreLibraryGoroutines()...)
}

// TestRunsInMemoryWithEachCodec runs the example as `go run` does.
func TestRunsInMemoryWithEachCodec(t *testing.T) {
	want := "7 + 2 = 9\n7 / 2 = 3 remainder 1\n7 / 0 fails: invalid_argument: division of 7 by zero\nserver recorded \"7 and 2\"\n"
	for _, args := range [][]string{nil, {"-codec", "proto"}, {"-codec", "msgpack"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			var out bytes.Buffer
			if err := run(args, &out); err != nil {
				t.Fatal(err)
			}
			if out.String() != want {
				t.Errorf("output:\n%s\nwant:\n%s", out.String(), want)
			}
		})
	}
}

func TestRefusesUnknownCodec(t *testing.T) {
	if err := run([]string{"-codec", "json"}, new(bytes.Buffer)); err == nil || !strings.Contains(err.Error(), `"json"`) {
		t.Fatalf("got %v, want an error naming the codec", err)
	}
}
