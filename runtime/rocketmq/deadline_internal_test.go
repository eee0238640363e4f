package rocketmq

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/mqrpc/mqrpc/runtime"
	"github.com/mqrpc/mqrpc/runtime/rocketmq/rocketmqtest"
)

// A request or one-way message whose call deadline (runtime.WithTimeout)
// comes before its context's is given up at that deadline, with
// DeadlineExceeded, while it still waits for a sender: under load all of
// them can be busy.
func TestRequestGivesUpAtTheCallDeadline(t *testing.T) {
	tr, err := New(Config{NameServers: []string{rocketmqtest.NameServer(t)}, SendGoroutines: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	// Every sender busy: no idle one takes the job, and no new one may
	// start.
	tr.mu.Lock()
	tr.nsenders = tr.cfg.SendGoroutines
	tr.mu.Unlock()
	defer func() {
		tr.mu.Lock()
		tr.nsenders = 0
		tr.mu.Unlock()
	}()

	const slack = 250 * time.Millisecond
	// request sends under ctx, which it cancels (so that the transport
	// can close) when the send still waits 10 s after the call's deadline.
	request := func(ctx context.Context, deadline time.Time, send func(context.Context, *runtime.Message) error) error {
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		m := &runtime.Message{Topic: "mqrpc_deadline_test", Key: "id", Body: []byte{1},
			Properties: map[string]string{runtime.PropDeadline: strconv.FormatInt(deadline.UnixMilli(), 10)}}
		done := make(chan error, 1)
		go func() { done <- send(ctx, m) }()
		select {
		case err := <-done:
			return err
		case <-time.After(time.Until(deadline) + 10*time.Second):
			cancel()
			<-done
			t.Fatal("Request still waited 10 s after the call's deadline")
			return nil
		}
	}

	for name, send := range map[string]func(context.Context, *runtime.Message) error{"Request": tr.Request, "Send": tr.Send} {
		deadline := time.Now().Add(300 * time.Millisecond)
		err = request(context.Background(), deadline, send)
		if late := time.Since(deadline); runtime.CodeOf(err) != runtime.DeadlineExceeded || late > slack {
			t.Errorf("%s with no ctx deadline: %v, %v after the call's deadline; want DeadlineExceeded within %v", name, err, late, slack)
		}
	}

	// A context that ends first ends the wait with its own error.
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	err = request(ctx, time.Now().Add(time.Hour), tr.Request)
	if err != context.DeadlineExceeded || time.Since(start) > 100*time.Millisecond+slack {
		t.Errorf("with an earlier ctx deadline: %v after %v; want context.DeadlineExceeded at about 100ms", err, time.Since(start))
	}
}
