package runtime_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mqrpc/mqrpc/internal/testservice"
	"github.com/mqrpc/mqrpc/runtime"
	"github.com/mqrpc/mqrpc/runtime/memtransport"
)

// refusingTransport delivers a request whose metadata asks for it as a
// transport delivers a body it could not inflate: with Message.Err set and
// no body.
type refusingTransport struct{ runtime.Transport }

func (r refusingTransport) Subscribe(topic, group string, h runtime.MessageHandler) (runtime.Subscription, error) {
	return r.Transport.Subscribe(topic, group, func(ctx context.Context, m *runtime.Message) error {
		if m.Properties[runtime.MetadataPrefix+"refuse"] != "" {
			m.Err = runtime.Errorf(runtime.InvalidArgument, "body does not inflate")
			m.Body = nil
		}
		return h(ctx, m)
	})
}

// blobCounter is the test service, counting the Blob calls it runs.
type blobCounter struct {
	testservice.Server
	n atomic.Int64
}

func (b *blobCounter) Blob(_ context.Context, p []byte) (int, error) {
	b.n.Add(1)
	return len(p), nil
}

// A server checks every request body against its max message size, and
// answers a body its transport refused with the transport's error; neither
// runs the handler.
func TestServerChecksRequestBodies(t *testing.T) {
	const limit = 100
	broker := memtransport.NewBroker()
	st, ct := refusingTransport{broker.NewTransport()}, broker.NewTransport()
	svc := &blobCounter{}
	// The server alone has the small limit: the client's own check, which
	// a raw sender skips, would refuse the large body before it is sent.
	srv := runtime.NewServer(st, runtime.WithMaxMessageSize(limit))
	if err := testservice.RegisterProbe(srv, svc); err != nil {
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
		_ = st.Close()
	})
	probe := testservice.NewProbeClient(client)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	// The body is the msgpack array of one bin: 6 bytes of framing for
	// the largest case here.
	if n, err := probe.Blob(ctx, make([]byte, limit-6)); err != nil || n != limit-6 {
		t.Errorf("Blob of a body at the limit = %d, %v; want %d", n, err, limit-6)
	}
	_, err = probe.Blob(ctx, make([]byte, limit))
	if runtime.CodeOf(err) != runtime.ResourceExhausted {
		t.Errorf("Blob of a body over the limit: %v, want ResourceExhausted", err)
	}
	t.Logf("over the limit: %v", err)
	_, err = probe.Blob(runtime.AppendOutgoingMetadata(ctx, "refuse", "1"), []byte("x"))
	if runtime.CodeOf(err) != runtime.InvalidArgument {
		t.Errorf("Blob of a body the transport refused: %v, want its InvalidArgument", err)
	}
	if n := svc.n.Load(); n != 1 {
		t.Errorf("the handler ran %d times, want once (for the body at the limit)", n)
	}
}
