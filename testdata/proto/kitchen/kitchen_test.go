package kitchenpb

import (
	"context"
	"math"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/mqrpc/mqrpc/runtime"
	"github.com/mqrpc/mqrpc/testdata/internal/goldentest"
	"github.com/mqrpc/mqrpc/testdata/proto/internal/prototest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type echo struct{}

func (echo) Cook(_ context.Context, s *Sink) (*Sink, error) { return s, nil }

// TestEveryFieldKindCallsThrough sends a message with every kind of field
// and unknown fields to an echo server: the reply equals the request.
func TestEveryFieldKindCallsThrough(t *testing.T) {
	st, _ := structpb.NewStruct(map[string]any{"a": []any{1.0, "b", nil}})
	in := &Sink{
		I64: math.MinInt64, U64: math.MaxUint64, Db: -0.5, S: "s", Color: 77, OptS: proto.String(""),
		Counts: map[string]int64{"x": 1}, ById: map[int32]*Sink_Inner{1: {Label: "l"}},
		Choice: &Sink_Id{Id: 0}, Ts: timestamppb.New(time.Unix(5, 6)), Dur: durationpb.New(time.Second),
		St: st, WS: wrapperspb.String(""), Child: &Sink{Colors: []Color{Color_COLOR_BLUE}},
	}
	in.ProtoReflect().SetUnknown(protowire.AppendVarint(protowire.AppendTag(nil, 5000, protowire.VarintType), 9))
	client := goldentest.Serve(t, func(s *runtime.Server) error { return RegisterKitchen(s, echo{}) })
	for _, c := range prototest.Codecs {
		t.Run(c.Name(), func(t *testing.T) {
			out, err := NewKitchenClient(client, runtime.WithCodec(c)).Cook(prototest.Ctx(t), in)
			if err != nil {
				t.Fatal(err)
			}
			if !proto.Equal(out, in) {
				t.Errorf("got %v, want %v", out, in)
			}
		})
	}
}

// A handler that returns a nil message and no error sends an empty one.
type nilCook struct{}

func (nilCook) Cook(context.Context, *Sink) (*Sink, error) { return nil, nil }

func TestNilResponseArrivesEmpty(t *testing.T) {
	client := goldentest.Serve(t, func(s *runtime.Server) error { return RegisterKitchen(s, nilCook{}) })
	for _, c := range prototest.Codecs {
		out, err := NewKitchenClient(client, runtime.WithCodec(c)).Cook(prototest.Ctx(t), &Sink{S: "x"})
		if err != nil || out == nil || !proto.Equal(out, &Sink{}) {
			t.Errorf("%s: %v, %v; want an empty Sink", c.Name(), out, err)
		}
	}
}
