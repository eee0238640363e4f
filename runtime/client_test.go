package runtime_test

import (
	"context"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/mqrpc/mqrpc/runtime"
	"github.com/mqrpc/mqrpc/runtime/memtransport"
)

func TestMetadataWithPropertySeparatorsIsRefused(t *testing.T) {
	for _, md := range []runtime.Metadata{{"k": "a\x01b"}, {"k\x02": "v"}, {"": "v"}} {
		tr := memtransport.New()
		c, err := runtime.NewClient(tr)
		if err != nil {
			t.Fatal(err)
		}
		ctx := runtime.WithOutgoingMetadata(context.Background(), md)
		err = c.Invoke(ctx, "/svc.S/M", &struct{}{}, nil)
		if runtime.CodeOf(err) != runtime.InvalidArgument {
			t.Errorf("metadata %q: got %v, want InvalidArgument before sending", md, err)
		}
		if n := c.Stats().Pending; n != 0 {
			t.Errorf("metadata %q: %d calls pending", md, n)
		}
		_ = tr.Close()
	}
}

// recordingTransport keeps the requests a client sends and never answers.
type recordingTransport struct {
	*memtransport.Transport
	sent chan *runtime.Message
}

func (r recordingTransport) Request(ctx context.Context, m *runtime.Message) error {
	r.sent <- m
	return nil
}

// The deadline a request carries: the earlier of ctx's deadline and
// WithTimeout, or DefaultTimeout when neither is set. A ctx deadline later
// than DefaultTimeout is kept.
func TestRequestDeadline(t *testing.T) {
	hour := time.Hour
	cases := []struct {
		name    string
		ctx     time.Duration // 0: no deadline
		timeout time.Duration // 0: no WithTimeout
		want    time.Duration
	}{
		{"neither", 0, 0, runtime.DefaultTimeout},
		{"ctx later than the default", hour, 0, hour},
		{"WithTimeout alone", 0, time.Second, time.Second},
		{"ctx earlier than WithTimeout", time.Second, hour, time.Second},
		{"WithTimeout earlier than ctx", hour, time.Second, time.Second},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tr := recordingTransport{memtransport.New(), make(chan *runtime.Message, 1)}
			defer tr.Close()
			client, err := runtime.NewClient(tr)
			if err != nil {
				t.Fatal(err)
			}
			defer client.Close()
			ctx, cancel := context.Background(), context.CancelFunc(func() {})
			if c.ctx > 0 {
				ctx, cancel = context.WithTimeout(ctx, c.ctx)
			}
			defer cancel()
			var opts []runtime.CallOption
			if c.timeout > 0 {
				opts = append(opts, runtime.WithTimeout(c.timeout))
			}
			start := time.Now()
			go func() { _ = client.Invoke(ctx, "/svc.S/M", &struct{}{}, nil, opts...) }()
			m := <-tr.sent
			ms, err := strconv.ParseInt(m.Properties[runtime.PropDeadline], 10, 64)
			if err != nil {
				t.Fatalf("deadline property %q: %v", m.Properties[runtime.PropDeadline], err)
			}
			got := time.UnixMilli(ms).Sub(start)
			if d := got - c.want; d < -time.Second || d > time.Second {
				t.Errorf("request deadline is %v after the call started, want about %v", got, c.want)
			}
			_ = client.Close()
		})
	}
}

// WithKeys puts business keys on the request beside its call id, options
// given to the client's constructor and to the call adding up; a key the
// broker could not index fails the call before it is sent.
func TestBusinessKeys(t *testing.T) {
	tr := recordingTransport{memtransport.New(), make(chan *runtime.Message, 1)}
	defer tr.Close()
	client, err := runtime.NewClient(tr, runtime.WithCallOptions(runtime.WithKeys("tenant-acme")))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = client.Invoke(ctx, "/svc.S/M", &struct{}{}, nil, runtime.WithKeys("order-42", "user-7")) }()
	m := <-tr.sent
	if want := []string{"tenant-acme", "order-42", "user-7"}; !slices.Equal(m.Keys, want) {
		t.Errorf("request keys %q, want %q", m.Keys, want)
	}
	if m.Key == "" || m.Key != m.Properties[runtime.PropCorrelationID] {
		t.Errorf("request Key %q, want the call id %q", m.Key, m.Properties[runtime.PropCorrelationID])
	}
	cancel()

	for _, bad := range []string{"", "order 42", "order\t42"} {
		err := client.Invoke(context.Background(), "/svc.S/M", &struct{}{}, nil, runtime.WithKeys(bad))
		if runtime.CodeOf(err) != runtime.InvalidArgument {
			t.Errorf("key %q: %v, want InvalidArgument before sending", bad, err)
		}
	}
	select {
	case m := <-tr.sent:
		t.Errorf("a call with a bad key was sent: %v", m.Keys)
	default:
	}
}
