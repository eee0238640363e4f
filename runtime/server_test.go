package runtime_test

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/mqrpc/mqrpc/runtime"
	"github.com/mqrpc/mqrpc/runtime/memtransport"
)

// replyRecorder is a transport that hands the test every reply a server
// sends.
type replyRecorder struct {
	runtime.Transport
	mu      sync.Mutex
	replies []runtime.Message
}

func (r *replyRecorder) Reply(ctx context.Context, req, reply *runtime.Message) error {
	r.mu.Lock()
	r.replies = append(r.replies, *reply)
	r.mu.Unlock()
	return r.Transport.Reply(ctx, req, reply)
}

func (r *replyRecorder) take() []runtime.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.replies
	r.replies = nil
	return out
}

// Replies say when the server took the request, so that a stored call
// shows its time in the queue apart from the handler's: mqrpc-received is
// the handler's CallInfo.RequestReceived in unix milliseconds, on OK and on
// error replies.
func TestReplyCarriesWhenTheServerTookTheRequest(t *testing.T) {
	broker := memtransport.NewBroker()
	rec := &replyRecorder{Transport: broker.NewTransport()}
	ct := broker.NewTransport()
	svc := &infoService{seen: make(chan runtime.CallInfo, 1)}
	srv := runtime.NewServer(rec)
	if err := srv.RegisterService(&infoDesc, svc); err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	client, err := runtime.NewClient(ct)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = client.Close()
		srv.GracefulStop()
		_ = ct.Close()
		_ = rec.Close()
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	if err := client.Invoke(ctx, "/infotest.Info/Look", &noArgs{}, nil); err != nil {
		t.Fatal(err)
	}
	ci := <-svc.seen
	replies := rec.take()
	if len(replies) != 1 {
		t.Fatalf("%d replies, want 1", len(replies))
	}
	if got, want := replies[0].Properties[runtime.PropReceived], strconv.FormatInt(ci.RequestReceived.UnixMilli(), 10); got != want {
		t.Errorf("OK reply: %s = %q, want the handler's RequestReceived %q", runtime.PropReceived, got, want)
	}

	before := time.Now().UnixMilli()
	err = client.Invoke(ctx, "/infotest.Info/Missing", &noArgs{}, nil)
	after := time.Now().UnixMilli()
	if runtime.CodeOf(err) != runtime.Unimplemented {
		t.Fatalf("unknown method: %v, want Unimplemented", err)
	}
	replies = rec.take()
	if len(replies) != 1 {
		t.Fatalf("%d replies, want 1", len(replies))
	}
	ms, err := strconv.ParseInt(replies[0].Properties[runtime.PropReceived], 10, 64)
	if err != nil || ms < before || ms > after {
		t.Errorf("error reply: %s = %q, want unix ms in [%d, %d]", runtime.PropReceived, replies[0].Properties[runtime.PropReceived], before, after)
	}
}
