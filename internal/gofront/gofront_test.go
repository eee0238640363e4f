package gofront_test

import (
	"errors"
	"reflect"
	"testing"

	"go.uber.org/goleak"

	"github.com/mqrpc/mqrpc/internal/gofront"
	"github.com/mqrpc/mqrpc/internal/model"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestOnlyProtobufRPCShapesCarryMessages loads methods at and near the
// shape M(ctx, *Req) (*Resp, error) with protobuf messages Req and Resp:
// that shape gets message bodies, as the .proto method would; every
// other shape keeps positional arrays.
func TestOnlyProtobufRPCShapesCarryMessages(t *testing.T) {
	f, err := gofront.Load(gofront.Config{Dir: "testdata/shapes", Types: []string{"Shapes"}})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]model.Body{
		"Message":           model.Message,
		"TwoMessages":       model.Positional,
		"NotAMessageResult": model.Positional,
		"NotAMessageParam":  model.Positional,
		"Values":            model.Positional,
		"TwoResults":        model.Positional,
		"Aliased":           model.Positional,
		"Lookalike":         model.Positional,
		"Notify":            model.Positional,
	}
	methods := f.Services[0].Methods
	if len(methods) != len(want) {
		t.Fatalf("got %d methods, want %d", len(methods), len(want))
	}
	for _, m := range methods {
		if m.Body != want[m.Name] {
			t.Errorf("%s: body %v, want %v", m.Name, m.Body, want[m.Name])
		}
	}

	// The message method is described as protofront describes a .proto
	// method: one request and one response, each a pointer to the message.
	const wrappers = "google.golang.org/protobuf/types/known/wrapperspb"
	message := func(name string) *model.Type {
		return &model.Type{Kind: model.Pointer, Elem: &model.Type{Kind: model.Named, Name: name, ImportPath: wrappers, PkgName: "wrapperspb"}}
	}
	m := methods[0]
	if params := []model.Param{{Name: "req", Type: message("StringValue")}}; !reflect.DeepEqual(m.Params, params) {
		t.Errorf("Message params %+v, want %+v", m.Params, params)
	}
	if results := []model.Param{{Type: message("Int64Value")}}; !reflect.DeepEqual(m.Results, results) {
		t.Errorf("Message results %+v, want %+v", m.Results, results)
	}
}

// TestOneWayMessageMethodIsRefused: a one-way method gets no reply, so
// it may not return a message even when shaped like a protobuf RPC.
func TestOneWayMessageMethodIsRefused(t *testing.T) {
	_, err := gofront.Load(gofront.Config{Dir: "testdata/shapes", Types: []string{"OneWayMessage"}})
	var errs model.Errors
	if !errors.As(err, &errs) || len(errs) != 1 {
		t.Fatalf("got %v, want one model error", err)
	}
	if want := "method Notify: is marked mqrpc:oneway but returns (*wrapperspb.Int64Value, error); a one-way call gets no reply, so it may return only error"; errs[0].Subject+": "+errs[0].Msg != want {
		t.Errorf("got %q, want %q", errs[0].Subject+": "+errs[0].Msg, want)
	}
}
