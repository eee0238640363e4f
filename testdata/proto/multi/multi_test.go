package multipb

import (
	"context"
	"errors"
	"testing"

	"go.uber.org/goleak"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/mqrpc/mqrpc/runtime"
	"github.com/mqrpc/mqrpc/testdata/internal/goldentest"
	"github.com/mqrpc/mqrpc/testdata/proto/internal/prototest"
	sharedpb "github.com/mqrpc/mqrpc/testdata/proto/shared"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type alpha struct{ closed chan struct{} }

func (alpha) Type(_ context.Context, w *Word) (*Word, error) {
	return &Word{Text: "type:" + w.GetText()}, nil
}
func (alpha) String(context.Context, *emptypb.Empty) (*Word, error) {
	return &Word{Text: "alpha"}, nil
}
func (a alpha) Close(context.Context, *emptypb.Empty) (*emptypb.Empty, error) {
	a.closed <- struct{}{}
	return &emptypb.Empty{}, nil
}

type beta struct{}

func (beta) Measure(_ context.Context, th *sharedpb.Thing) (*Count, error) {
	return &Count{N: th.GetSize() * 2}, nil
}
func (beta) Fail(_ context.Context, w *Word) (*Count, error) {
	if w.GetText() == "plain" {
		return nil, errors.New("plain failure")
	}
	return nil, runtime.Errorf(runtime.FailedPrecondition, "no %s", w.GetText())
}

type gamma struct{}

func (gamma) Echo(_ context.Context, w *Word) (*Word, error) { return w, nil }
func (gamma) Swap(_ context.Context, p *Pair) (*Pair, error) {
	return &Pair{Word: &Word{Text: p.GetThing().GetName()}, Thing: &sharedpb.Thing{Name: p.GetWord().GetText(), Size: p.GetThing().GetSize()}}, nil
}

// TestServicesOfTwoFilesCallThrough serves all three services of the
// package on one server and calls each method with each codec.
func TestServicesOfTwoFilesCallThrough(t *testing.T) {
	a := alpha{closed: make(chan struct{}, 2)}
	client := goldentest.Serve(t, func(s *runtime.Server) error {
		return errors.Join(RegisterAlpha(s, a), RegisterBeta(s, beta{}), RegisterGamma(s, gamma{}))
	})
	for _, c := range prototest.Codecs {
		t.Run(c.Name(), func(t *testing.T) {
			ctx := prototest.Ctx(t)
			opt := runtime.WithCodec(c)
			al, be, ga := NewAlphaClient(client, opt), NewBetaClient(client, opt), NewGammaClient(client, opt)
			if w, err := al.Type(ctx, &Word{Text: "x"}); err != nil || w.GetText() != "type:x" {
				t.Errorf("Type: %v, %v", w, err)
			}
			if w, err := al.String(ctx, &emptypb.Empty{}); err != nil || w.GetText() != "alpha" {
				t.Errorf("String: %v, %v", w, err)
			}
			if e, err := al.Close(ctx, &emptypb.Empty{}); err != nil || e == nil {
				t.Errorf("Close: %v, %v", e, err)
			}
			select {
			case <-a.closed:
			default:
				t.Error("Close returned before the server ran it")
			}
			if n, err := be.Measure(ctx, &sharedpb.Thing{Size: 21}); err != nil || n.GetN() != 42 {
				t.Errorf("Measure: %v, %v", n, err)
			}
			if n, err := be.Fail(ctx, &Word{Text: "luck"}); n != nil || runtime.CodeOf(err) != runtime.FailedPrecondition {
				t.Errorf("Fail: %v, %v; want nil and FailedPrecondition", n, err)
			}
			if _, err := be.Fail(ctx, &Word{Text: "plain"}); runtime.CodeOf(err) != runtime.Unknown {
				t.Errorf("Fail with a plain error: %v, want Unknown", err)
			}
			if w, err := ga.Echo(ctx, &Word{}); err != nil || !proto.Equal(w, &Word{}) {
				t.Errorf("Echo of an empty message: %v, %v", w, err)
			}
			in := &Pair{Word: &Word{Text: "w"}, Thing: &sharedpb.Thing{Name: "t", Size: 3}}
			want := &Pair{Word: &Word{Text: "t"}, Thing: &sharedpb.Thing{Name: "w", Size: 3}}
			if p, err := ga.Swap(ctx, in); err != nil || !proto.Equal(p, want) {
				t.Errorf("Swap: %v, %v; want %v", p, err, want)
			}
		})
	}
}

func TestNamesOnTheWire(t *testing.T) {
	for got, want := range map[string]string{
		AlphaServiceName:            "mqrpc.test.multi.v1.Alpha",
		Alpha_Type_FullMethodName:   "/mqrpc.test.multi.v1.Alpha/Type",
		Beta_Measure_FullMethodName: "/mqrpc.test.multi.v1.Beta/Measure",
		Gamma_Swap_FullMethodName:   "/mqrpc.test.multi.v1.Gamma/Swap",
	} {
		if got != want {
			t.Errorf("%q, want %q", got, want)
		}
	}
	if topic := runtime.TopicFor(AlphaServiceName); topic != "mqrpc_test_multi_v1_Alpha" {
		t.Errorf("topic %q", topic)
	}
}
