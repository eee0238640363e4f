package legacy

import (
	"context"
	"testing"

	"go.uber.org/goleak"
	"google.golang.org/protobuf/proto"

	"github.com/mqrpc/mqrpc/runtime"
	"github.com/mqrpc/mqrpc/testdata/internal/goldentest"
	"github.com/mqrpc/mqrpc/testdata/proto/internal/prototest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type store struct{}

func (store) GetValue(_ context.Context, k *Key) (*Value, error) {
	return &Value{Data: []byte(k.GetName()), Nums: []int32{k.GetVersion()}, Key: k}, nil
}

// TestSnakeCaseMethodCallsThrough calls get_value, GetValue in Go, with a
// proto2 message carrying defaults, a group and extensions.
func TestSnakeCaseMethodCallsThrough(t *testing.T) {
	if Store_GetValue_FullMethodName != "/legacy.Store/get_value" {
		t.Errorf("full method name %q, want the proto name", Store_GetValue_FullMethodName)
	}
	client := goldentest.Serve(t, func(s *runtime.Server) error { return RegisterStore(s, store{}) })
	for _, c := range prototest.Codecs {
		t.Run(c.Name(), func(t *testing.T) {
			k := &Key{Name: proto.String("k"), Kind: Key_SPECIAL.Enum(), Extra: &Key_Extra{Note: proto.String("n")}}
			proto.SetExtension(k, E_Label, "label")
			v, err := NewStoreClient(client, runtime.WithCodec(c)).GetValue(prototest.Ctx(t), k)
			if err != nil {
				t.Fatal(err)
			}
			want := &Value{Data: []byte("k"), Nums: []int32{7}, Key: k}
			if !proto.Equal(v, want) {
				t.Errorf("got %v, want %v", v, want)
			}
		})
	}
}

func TestMissingRequiredFieldFailsBeforeSending(t *testing.T) {
	client := goldentest.Serve(t, func(s *runtime.Server) error { return RegisterStore(s, store{}) })
	for _, c := range prototest.Codecs {
		_, err := NewStoreClient(client, runtime.WithCodec(c)).GetValue(prototest.Ctx(t), &Key{})
		if runtime.CodeOf(err) != runtime.Internal {
			t.Errorf("%s: %v, want Internal (the request does not encode)", c.Name(), err)
		}
	}
}
