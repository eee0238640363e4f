package clash

import (
	stdctx "context"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	mqrpc "github.com/mqrpc/mqrpc/runtime"
	"github.com/mqrpc/mqrpc/testdata/internal/goldentest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type impl struct{ closed chan struct{} }

func (impl) Echo(_ stdctx.Context, c, client, s, err, req, in, out string, n int, impl, args, opts, runtime, context string) (string, error) {
	return strings.Join([]string{c, client, s, err, req, in, out, fmt.Sprint(n), impl, args, opts, runtime, context}, ","), nil
}

func (impl) Unnamed(_ stdctx.Context, s string, n int) (string, error) { return fmt.Sprint(s, n), nil }

func (impl) Swap(_ stdctx.Context, ctx string) (string, error) { return "ctx=" + ctx, nil }

func (impl) Fields(_ stdctx.Context, a, A, p0, last string) (string, error) {
	return strings.Join([]string{a, A, p0, last}, ","), nil
}

func (i impl) Close(stdctx.Context) error {
	close(i.closed)
	return nil
}

func (impl) String(stdctx.Context) (string, error) { return "impl", nil }

func (impl) Register(_ stdctx.Context, name string) (bool, error) { return name != "", nil }

func ctx(t *testing.T) stdctx.Context {
	ctx, cancel := stdctx.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestClashingNamesStillCallThrough(t *testing.T) {
	srv := impl{closed: make(chan struct{})}
	cl := NewClashClient(goldentest.Serve(t, func(s *mqrpc.Server) error { return RegisterClash(s, srv) }))

	got, err := cl.Echo(ctx(t), "c", "client", "s", "err", "req", "in", "out", 7, "impl", "args", "opts", "runtime", "context")
	if want := "c,client,s,err,req,in,out,7,impl,args,opts,runtime,context"; err != nil || got != want {
		t.Errorf("Echo: %q, %v; want %q", got, err, want)
	}
	if got, err := cl.Unnamed(ctx(t), "x", 1); err != nil || got != "x1" {
		t.Errorf("Unnamed: %q, %v", got, err)
	}
	if got, err := cl.Swap(ctx(t), "value"); err != nil || got != "ctx=value" {
		t.Errorf("Swap: %q, %v", got, err)
	}
	if got, err := cl.Fields(ctx(t), "a", "A", "p0", "_"); err != nil || got != "a,A,p0,_" {
		t.Errorf("Fields: %q, %v", got, err)
	}
	if got, err := cl.String(ctx(t)); err != nil || got != "impl" {
		t.Errorf("String: %q, %v", got, err)
	}
	if ok, err := cl.Register(ctx(t), "n"); err != nil || !ok {
		t.Errorf("Register: %v, %v", ok, err)
	}
	if err := cl.Close(ctx(t)); err != nil {
		t.Fatal(err)
	}
	select {
	case <-srv.closed:
	default:
		t.Error("Close returned before the server ran it")
	}
}

// The user's own declarations keep their values; the generated code chose
// other names.
func TestUserDeclarationsUntouched(t *testing.T) {
	if runtime != "not the mqrpc runtime" || clashServiceDesc != "taken" || clashEchoArgs != 1 || clashEchoResults != 2 || clashCloseArgs != 3 || context() != "also taken" {
		t.Error("a user declaration changed")
	}
	if clashServiceDesc1.ServiceName != "clash.Clash" {
		t.Errorf("generated descriptor is for %q", clashServiceDesc1.ServiceName)
	}
}
