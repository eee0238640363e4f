// Package testenv decides what a test does when something it needs, such as
// the RocketMQ broker, protoc or Java, is missing: CI must run every test,
// so there it fails; elsewhere it is skipped.
package testenv

import (
	"os"
	"testing"
)

// InCI reports whether the tests run in CI: CI is set, and not to "false"
// or "0".
func InCI() bool {
	v := os.Getenv("CI")
	return v != "" && v != "false" && v != "0"
}

// Missing fails t under CI and skips it elsewhere, with the message
// format and args build.
func Missing(t testing.TB, format string, args ...any) {
	t.Helper()
	if InCI() {
		t.Fatalf(format, args...)
	}
	t.Skipf(format, args...)
}
