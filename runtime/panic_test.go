package runtime

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

// A handler panic is logged with its stack and the call id, and the caller
// gets Internal naming the call id but not the panic's value, unless the
// server was started WithPanicDetails.
func TestHandlerPanicIsLoggedAndHiddenFromTheCaller(t *testing.T) {
	for _, details := range []bool{false, true} {
		var log bytes.Buffer
		opts := []ServerOption{WithLogger(slog.New(slog.NewTextHandler(&log, nil)))}
		if details {
			opts = append(opts, WithPanicDetails())
		}
		_, ft, _ := newCalcServer(t, opts...)
		deliver(t, ft, calcRequest(t, "Panic", "panic-1", calcNoArgs{}))
		sent := ft.sent()
		if len(sent) != 1 {
			t.Fatalf("details %v: %d replies, want 1", details, len(sent))
		}
		reply := sent[0].reply
		msg := reply.Properties[PropMessage]
		if got := statusOf(t, reply); got != Internal || !strings.Contains(msg, "panic-1") {
			t.Errorf("details %v: reply %v %q, want internal naming call panic-1", details, got, msg)
		}
		if hasValue := strings.Contains(msg, "handler panic for a test"); hasValue != details {
			t.Errorf("details %v: reply message %q shows the panic value: %v", details, msg, hasValue)
		}
		if l := log.String(); !strings.Contains(l, "call_id=panic-1") || !strings.Contains(l, "handler panic for a test") || !strings.Contains(l, "goroutine") {
			t.Errorf("details %v: log lacks the call id, panic value or stack:\n%s", details, l)
		}
	}
}

// A server given no logger logs a handler panic to slog.Default().
func TestHandlerPanicGoesToTheDefaultLoggerWithoutOne(t *testing.T) {
	var log bytes.Buffer
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&log, nil)))
	t.Cleanup(func() { slog.SetDefault(prev) })
	_, ft, _ := newCalcServer(t)
	deliver(t, ft, calcRequest(t, "Panic", "panic-2", calcNoArgs{}))
	if !strings.Contains(log.String(), "call_id=panic-2") {
		t.Errorf("slog.Default() got no record of the panic:\n%s", log.String())
	}
}
