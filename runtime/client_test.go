package runtime_test

import (
	"context"
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
		if n := c.Pending(); n != 0 {
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
