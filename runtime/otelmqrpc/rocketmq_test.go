package otelmqrpc_test

import (
	"crypto/rand"
	"encoding/hex"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/mqrpc/mqrpc/runtime/rocketmq"
	"github.com/mqrpc/mqrpc/runtime/rocketmq/rocketmqtest"
)

// Needs a broker: MQRPC_NAMESRV (skipped without it, failed under CI=true).
// The trace crosses a real RocketMQ broker in the request's properties, and
// the queue wait comes from the broker's born timestamp of the request.
func TestSpansLinkAcrossRocketMQ(t *testing.T) {
	addr := rocketmqtest.NameServer(t)
	connect := func() *rocketmq.Transport {
		tr, err := rocketmq.New(rocketmq.Config{NameServers: []string{addr}})
		if err != nil {
			t.Fatalf("rocketmq.New: %v", err)
		}
		return tr
	}
	e := endpoints{server: connect(), client: connect()}
	t.Cleanup(func() { _ = e.client.Close(); _ = e.server.Close() })
	var b [4]byte
	_, _ = rand.Read(b[:])
	topic := "otelmqrpc_test_" + hex.EncodeToString(b[:]) // not shared with other tests or runs

	tel := newTelemetry(t)
	calc := instrumented(t, e, topic, tel)
	if q, r, err := calc.Div(t.Context(), 17, 5); err != nil || q != 3 || r != 2 {
		t.Fatalf("Div(17, 5) = %d, %d, %v", q, r, err)
	}
	client, server := clientAndServer(t, tel.spans.Ended())
	wait := checkLinked(t, client, server)
	if got := attrs(server)["messaging.destination.name"].AsString(); got != topic {
		t.Errorf("server span messaging.destination.name = %q, want %q", got, topic)
	}
	for _, s := range []sdktrace.ReadOnlySpan{client, server} {
		if got := attrs(s)["messaging.system"].AsString(); got != "rocketmq" {
			t.Errorf("%s span messaging.system = %q, want rocketmq", s.SpanKind(), got)
		}
	}
	t.Logf("call %v, queue wait %v, handler %v", client.EndTime().Sub(client.StartTime()), wait, server.EndTime().Sub(server.StartTime()))
}
