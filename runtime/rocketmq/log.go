package rocketmq

import (
	"context"
	"log/slog"
	"sync"

	"github.com/apache/rocketmq-client-go/v2/rlog"
)

// slogAdapter routes the library's logging (rlog) to log/slog.
type slogAdapter struct {
	l *slog.Logger
}

func (a slogAdapter) log(level slog.Level, msg string, fields map[string]any) {
	if !a.l.Enabled(context.Background(), level) {
		return
	}
	attrs := make([]slog.Attr, 0, len(fields))
	for k, v := range fields {
		attrs = append(attrs, slog.Any(k, v))
	}
	a.l.LogAttrs(context.Background(), level, "rocketmq: "+msg, attrs...)
}

func (a slogAdapter) Debug(msg string, fields map[string]any)   { a.log(slog.LevelDebug, msg, fields) }
func (a slogAdapter) Info(msg string, fields map[string]any)    { a.log(slog.LevelInfo, msg, fields) }
func (a slogAdapter) Warning(msg string, fields map[string]any) { a.log(slog.LevelWarn, msg, fields) }
func (a slogAdapter) Error(msg string, fields map[string]any)   { a.log(slog.LevelError, msg, fields) }

// Fatal logs at error level and does not exit: a library must not end the
// process it runs in.
func (a slogAdapter) Fatal(msg string, fields map[string]any) { a.log(slog.LevelError, msg, fields) }
func (a slogAdapter) Level(string)                            {}
func (a slogAdapter) OutputPath(string) error                 { return nil }

var setLoggerOnce sync.Once

// SetLogger routes the logging of rocketmq-client-go to l. The library's
// logger is global to the process; call SetLogger before the first New.
// Without it the library's log is discarded: it reports routine events,
// such as connections closed at shutdown, at error level.
func SetLogger(l *slog.Logger) {
	setLoggerOnce.Do(func() {})
	rlog.SetLogger(slogAdapter{l: l})
}

func installDefaultLogger() {
	setLoggerOnce.Do(func() {
		rlog.SetLogger(slogAdapter{l: slog.New(slog.DiscardHandler)})
	})
}
