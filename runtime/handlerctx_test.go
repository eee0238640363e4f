package runtime

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestHandlerContextEndsAtItsDeadline(t *testing.T) {
	defer goleak.VerifyNone(t)
	deadline := time.Now().Add(50 * time.Millisecond)
	ctx := &handlerContext{parent: context.Background(), deadline: deadline}
	if d, ok := ctx.Deadline(); !ok || !d.Equal(deadline) {
		t.Errorf("Deadline() = %v, %v; want %v, true", d, ok, deadline)
	}
	if err := ctx.Err(); err != nil {
		t.Fatalf("Err() before the deadline = %v", err)
	}
	<-ctx.Done()
	if time.Now().Before(deadline) {
		t.Errorf("Done closed before the deadline")
	}
	if err := ctx.Err(); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Err() after the deadline = %v, want DeadlineExceeded", err)
	}
	ctx.release()
	if err := ctx.Err(); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Err() after release of an expired context = %v, want DeadlineExceeded", err)
	}
}

// Err reports the deadline even when nothing asked for Done, which is
// what lets a handler context go without a timer.
func TestHandlerContextErrWithoutDone(t *testing.T) {
	ctx := &handlerContext{parent: context.Background(), deadline: time.Now().Add(-time.Millisecond)}
	if err := ctx.Err(); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Err() past the deadline = %v, want DeadlineExceeded", err)
	}
	select {
	case <-ctx.Done():
	default:
		t.Error("Done of an expired context is not closed")
	}
}

func TestHandlerContextFollowsTheServersContext(t *testing.T) {
	defer goleak.VerifyNone(t)
	parent, cancel := context.WithCancel(context.Background())
	ctx := &handlerContext{parent: parent, deadline: time.Now().Add(time.Hour)}
	done := ctx.Done()
	// A context derived from it ends with it, as handlers expect of
	// contexts they pass on.
	child, cancelChild := context.WithTimeout(ctx, time.Hour)
	defer cancelChild()
	cancel()
	<-done
	<-child.Done()
	if err := ctx.Err(); !errors.Is(err, context.Canceled) {
		t.Errorf("Err() after the server's context ended = %v, want Canceled", err)
	}
	if err := context.Cause(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Cause() = %v, want Canceled", err)
	}
	ctx.release()
}

func TestHandlerContextReleaseCancels(t *testing.T) {
	defer goleak.VerifyNone(t)
	type key struct{}
	parent := context.WithValue(context.Background(), key{}, "from the server")
	ctx := &handlerContext{parent: parent, deadline: time.Now().Add(time.Hour), md: Pairs("k", "v")}
	done := ctx.Done()
	ctx.release()
	<-done
	if err := ctx.Err(); !errors.Is(err, context.Canceled) {
		t.Errorf("Err() after release = %v, want Canceled", err)
	}
	if got := ctx.Value(key{}); got != "from the server" {
		t.Errorf("Value of the server's context = %v", got)
	}
	if got := IncomingMetadata(ctx).Get("k"); got != "v" {
		t.Errorf("IncomingMetadata.Get(k) = %q, want v", got)
	}
	if !SetTrailer(ctx, "a", "1") || ctx.trailer.Get("a") != "1" {
		t.Errorf("SetTrailer did not reach the context's trailer: %v", ctx.trailer)
	}
	if _, ok := CallInfoFromContext(ctx); !ok {
		t.Error("CallInfoFromContext found no call")
	}
}
