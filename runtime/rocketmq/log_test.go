package rocketmq

import (
	"context"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"

	"github.com/apache/rocketmq-client-go/v2/rlog"
)

// setLoggerChild marks the process that TestSetLoggerRoutesLibraryLog runs
// its check in.
const setLoggerChild = "MQRPC_TEST_SETLOGGER_CHILD"

// recordingHandler keeps every record it is given.
type recordingHandler struct {
	mu      sync.Mutex
	level   slog.Level
	records []slog.Record
}

func (h *recordingHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level }
func (h *recordingHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	h.records = append(h.records, r)
	h.mu.Unlock()
	return nil
}
func (h *recordingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *recordingHandler) WithGroup(string) slog.Handler      { return h }

// TestSetLoggerRoutesLibraryLog checks that what rocketmq-client-go logs
// through rlog arrives at the slog logger given to SetLogger, at the
// matching level, with its fields as attributes, and that the library's
// Fatal is logged and does not end the process.
func TestSetLoggerRoutesLibraryLog(t *testing.T) {
	if os.Getenv(setLoggerChild) != "1" {
		// The library's logger is a global written without a lock, which
		// is why SetLogger must come before the first client: here the
		// goroutines of other tests' clients would race with it. So the
		// check runs in a process of its own.
		cmd := exec.Command(os.Args[0], "-test.run=^TestSetLoggerRoutesLibraryLog$", "-test.v", "-test.count=1")
		cmd.Env = append(os.Environ(), setLoggerChild+"=1")
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "--- PASS: TestSetLoggerRoutesLibraryLog") {
			t.Fatalf("the check in a process of its own: %v\n%s", err, out)
		}
		return
	}
	h := &recordingHandler{level: slog.LevelInfo}
	SetLogger(slog.New(h))
	defer SetLogger(slog.New(slog.DiscardHandler))

	rlog.Debug("below the handler's level", nil)
	rlog.Info("client start", map[string]any{"namesrvAddr": "127.0.0.1:9876"})
	rlog.Warning("route changed", map[string]any{"topic": "t"})
	rlog.Error("send failed", nil)
	rlog.Fatal("fatal in the library", nil)

	type line struct {
		level slog.Level
		msg   string
		attrs map[string]any
	}
	want := []line{
		{slog.LevelInfo, "rocketmq: client start", map[string]any{"namesrvAddr": "127.0.0.1:9876"}},
		{slog.LevelWarn, "rocketmq: route changed", map[string]any{"topic": "t"}},
		{slog.LevelError, "rocketmq: send failed", map[string]any{}},
		{slog.LevelError, "rocketmq: fatal in the library", map[string]any{}},
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.records) != len(want) {
		t.Fatalf("got %d records, want %d: %v", len(h.records), len(want), h.records)
	}
	for i, r := range h.records {
		attrs := map[string]any{}
		r.Attrs(func(a slog.Attr) bool { attrs[a.Key] = a.Value.Any(); return true })
		got := line{r.Level, r.Message, attrs}
		if got.level != want[i].level || got.msg != want[i].msg || len(got.attrs) != len(want[i].attrs) {
			t.Errorf("record %d is %v, want %v", i, got, want[i])
			continue
		}
		for k, v := range want[i].attrs {
			if got.attrs[k] != v {
				t.Errorf("record %d: attribute %s is %v, want %v", i, k, got.attrs[k], v)
			}
		}
	}
}
