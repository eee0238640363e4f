package interop_test

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/mqrpc/mqrpc/runtime/rocketmq/rocketmqtest"
)

// TestMain fails the package when a test leaves a goroutine behind: the
// tests start transports, servers and readers of the Java programs' output,
// and each must be gone when its test ends.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, rocketmqtest.IgnoreLibraryGoroutines()...)
}
