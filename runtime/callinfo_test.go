package runtime_test

import (
	"context"
	"testing"
	"time"

	"github.com/mqrpc/mqrpc/runtime"
	"github.com/mqrpc/mqrpc/runtime/memtransport"
)

// infoService has one method, Look, that returns nothing and hands the
// CallInfo its handler sees to the test, and a one-way Poke.
type infoService struct{ seen chan runtime.CallInfo }

type noArgs struct {
	_msgpack struct{} `msgpack:",as_array"`
}

var infoDesc = runtime.ServiceDesc{
	ServiceName: "infotest.Info",
	Methods: []runtime.MethodDesc{
		{Name: "Look", NewArgs: func() any { return new(noArgs) }, Call: infoCall},
		{Name: "Poke", OneWay: true, NewArgs: func() any { return new(noArgs) }, Call: infoCall},
	},
}

func infoCall(ctx context.Context, impl any, _ any) (any, error) {
	ci, ok := runtime.CallInfoFromContext(ctx)
	if !ok {
		return nil, runtime.NewError(runtime.Internal, "no CallInfo in the handler's context")
	}
	impl.(*infoService).seen <- ci
	return nil, nil
}

// serveInfo starts an infoService over a fresh memtransport and returns a
// client with the given interceptors.
func serveInfo(t *testing.T, ics ...runtime.UnaryClientInterceptor) (*runtime.Client, *infoService) {
	t.Helper()
	broker := memtransport.NewBroker()
	st, ct := broker.NewTransport(), broker.NewTransport()
	svc := &infoService{seen: make(chan runtime.CallInfo, 1)}
	srv := runtime.NewServer(st)
	if err := srv.RegisterService(&infoDesc, svc); err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	client, err := runtime.NewClient(ct, runtime.WithClientInterceptors(ics...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = client.Close()
		srv.GracefulStop()
		_ = ct.Close()
		_ = st.Close()
	})
	return client, svc
}

// recordInfo is a client interceptor that hands the test the CallInfo it
// reads after invoke returns.
func recordInfo(got chan<- runtime.CallInfo) runtime.UnaryClientInterceptor {
	return func(ctx context.Context, method string, args, results any, invoke runtime.Invoker) error {
		err := invoke(ctx, method, args, results)
		ci, _ := runtime.CallInfoFromContext(ctx)
		got <- ci
		return err
	}
}

func TestCallInfoOnBothSides(t *testing.T) {
	clientSeen := make(chan runtime.CallInfo, 1)
	client, svc := serveInfo(t, recordInfo(clientSeen))
	const method = "/infotest.Info/Look"

	start := time.Now()
	if err := client.Invoke(context.Background(), method, &noArgs{}, nil); err != nil {
		t.Fatal(err)
	}
	end := time.Now()
	srv, cli := <-svc.seen, <-clientSeen

	if cli.ID == "" || cli.ID != srv.ID {
		t.Errorf("call id: client saw %q, server %q; want the same non-empty id", cli.ID, srv.ID)
	}
	topic := runtime.TopicFor("infotest.Info")
	for side, ci := range map[string]runtime.CallInfo{"client": cli, "server": srv} {
		if ci.Method != method || ci.Topic != topic {
			t.Errorf("%s saw method %q topic %q, want %q %q", side, ci.Method, ci.Topic, method, topic)
		}
	}
	inOrder := func(what string, times ...time.Time) {
		t.Helper()
		for i := 1; i < len(times); i++ {
			if times[i].Before(times[i-1]) {
				t.Errorf("%s: time %d (%v) is before time %d (%v)", what, i, times[i], i-1, times[i-1])
			}
		}
	}
	inOrder("request", start, cli.RequestSent, srv.RequestSent, srv.RequestStored, srv.RequestReceived, end)
	inOrder("reply", srv.RequestReceived, cli.ReplySent, cli.ReplyStored, cli.ReplyReceived, end)
	if !cli.RequestReceived.IsZero() || !srv.ReplySent.IsZero() || !srv.ReplyReceived.IsZero() {
		t.Errorf("a side reports a time it cannot know: client %+v, server %+v", cli, srv)
	}
	if w := srv.QueueWait(); w != srv.RequestReceived.Sub(srv.RequestSent) || w > end.Sub(start) {
		t.Errorf("QueueWait = %v, want RequestReceived-RequestSent, within the call's %v", w, end.Sub(start))
	}
	if tr := cli.ReplyTransit(); tr != cli.ReplyReceived.Sub(cli.ReplySent) || tr > end.Sub(start) {
		t.Errorf("ReplyTransit = %v, want ReplyReceived-ReplySent, within the call's %v", tr, end.Sub(start))
	}
}

func TestCallInfoOfOneWayCall(t *testing.T) {
	clientSeen := make(chan runtime.CallInfo, 1)
	client, svc := serveInfo(t, recordInfo(clientSeen))
	if err := client.Send(context.Background(), "/infotest.Info/Poke", &noArgs{}); err != nil {
		t.Fatal(err)
	}
	cli, srv := <-clientSeen, <-svc.seen
	if cli.ID == "" || cli.ID != srv.ID || cli.RequestSent.IsZero() {
		t.Errorf("one-way call: client saw %+v, server %+v", cli, srv)
	}
	if !cli.ReplyReceived.IsZero() {
		t.Errorf("one-way call has a reply time: %+v", cli)
	}
}

// An interceptor may run invoke on another goroutine; reading CallInfo
// afterwards must not race with the call writing it (run with -race).
func TestCallInfoWithInvokeOnAnotherGoroutine(t *testing.T) {
	clientSeen := make(chan runtime.CallInfo, 1)
	async := func(ctx context.Context, method string, args, results any, invoke runtime.Invoker) error {
		done := make(chan error, 1)
		go func() { done <- invoke(ctx, method, args, results) }()
		return <-done
	}
	client, svc := serveInfo(t, recordInfo(clientSeen), async)
	if err := client.Invoke(context.Background(), "/infotest.Info/Look", &noArgs{}, nil); err != nil {
		t.Fatal(err)
	}
	if cli, srv := <-clientSeen, <-svc.seen; cli.ID != srv.ID || cli.ReplyReceived.IsZero() {
		t.Errorf("client saw %+v, server %+v", cli, srv)
	}
}

func TestCallInfoOutsideACall(t *testing.T) {
	if ci, ok := runtime.CallInfoFromContext(context.Background()); ok {
		t.Errorf("CallInfoFromContext(Background) = %+v, true", ci)
	}
}

func TestCallInfoDurations(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	cases := []struct {
		name     string
		from, to time.Time
		want     time.Duration
	}{
		{"both known", t0, t0.Add(3 * time.Millisecond), 3 * time.Millisecond},
		{"sender unknown", time.Time{}, t0, 0},
		{"receiver unknown", t0, time.Time{}, 0},
		{"skewed clocks", t0, t0.Add(-time.Millisecond), 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ci := runtime.CallInfo{RequestSent: c.from, RequestReceived: c.to, ReplySent: c.from, ReplyReceived: c.to}
			if got := ci.QueueWait(); got != c.want {
				t.Errorf("QueueWait = %v, want %v", got, c.want)
			}
			if got := ci.ReplyTransit(); got != c.want {
				t.Errorf("ReplyTransit = %v, want %v", got, c.want)
			}
		})
	}
}
