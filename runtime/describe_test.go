package runtime_test

import (
	"context"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/mqrpc/mqrpc/codec"
	"github.com/mqrpc/mqrpc/examples/calcpb/calcv1"
	"github.com/mqrpc/mqrpc/examples/calculator/calculator"
	"github.com/mqrpc/mqrpc/runtime"
	"github.com/mqrpc/mqrpc/runtime/memtransport"
	"github.com/mqrpc/mqrpc/testdata/golden/kinds"
)

func TestServerAnswersDescribeWithEveryService(t *testing.T) {
	tr := memtransport.New()
	t.Cleanup(func() { _ = tr.Close() })
	srv := runtime.NewServer(tr)
	if err := calculator.RegisterCalculator(srv, calculator.Server{}); err != nil {
		t.Fatal(err)
	}
	if err := calcv1.RegisterCalculator(srv, calcv1.Server{}); err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	c, err := runtime.NewClient(tr)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	// Asked on either service's topic, the server describes both.
	for _, svc := range []string{calculator.CalculatorServiceName, calcv1.CalculatorServiceName} {
		d, err := runtime.Describe(ctx, c, svc)
		if err != nil {
			t.Fatalf("describe %s: %v", svc, err)
		}
		if !reflect.DeepEqual(d, srv.Description()) {
			t.Errorf("describe %s: got %+v, want %+v", svc, d, srv.Description())
		}
		if len(d.Services) != 2 {
			t.Fatalf("describe %s: %d services, want 2", svc, len(d.Services))
		}
	}
	d := srv.Description()
	div := d.Service(calculator.CalculatorServiceName).Method("Div")
	want := runtime.MethodDescription{
		Name: "Div", FullMethod: calculator.Calculator_Div_FullMethodName, Idempotent: true, Body: "positional",
		Params:  []runtime.Field{{Name: "a", Type: "int"}, {Name: "b", Type: "int"}},
		Results: []runtime.Field{{Name: "quotient", Type: "int"}, {Name: "remainder", Type: "int"}},
	}
	if !reflect.DeepEqual(*div, want) {
		t.Errorf("Div: got %+v, want %+v", *div, want)
	}
	add := d.Service(calcv1.CalculatorServiceName).Method("Add")
	if add.Body != "message" || add.Request != "calc.v1.AddRequest" || add.Response != "calc.v1.AddResponse" || !add.Idempotent {
		t.Errorf("proto Add: got %+v", *add)
	}
	// Record writes: its idempotency_level is unset.
	if rec := d.Service(calcv1.CalculatorServiceName).Method("Record"); rec == nil || rec.Idempotent || !rec.OneWay {
		t.Errorf("proto Record: got %+v, want one-way and not idempotent", rec)
	}
	if d.Service(calcv1.CalculatorServiceName).Method(runtime.DescribeMethod) != nil {
		t.Error("the description lists the describe method itself")
	}
}

func TestDescriptionCarriesTheProtoFilesOfAProtoService(t *testing.T) {
	tr := memtransport.New()
	t.Cleanup(func() { _ = tr.Close() })
	srv := runtime.NewServer(tr)
	if err := calculator.RegisterCalculator(srv, calculator.Server{}); err != nil {
		t.Fatal(err)
	}
	if err := calcv1.RegisterCalculator(srv, calcv1.Server{}); err != nil {
		t.Fatal(err)
	}
	d := srv.Description()
	if files := d.Service(calculator.CalculatorServiceName).ProtoFiles; files != nil {
		t.Errorf("the Go-interface service carries %d .proto files", len(files))
	}
	svc := d.Service(calcv1.CalculatorServiceName)
	// The service's file after the file it imports, each once.
	var names []string
	for _, b := range svc.ProtoFiles {
		var f descriptorpb.FileDescriptorProto
		if err := proto.Unmarshal(b, &f); err != nil {
			t.Fatal(err)
		}
		names = append(names, f.GetName())
	}
	if want := []string{"google/protobuf/empty.proto", "calcv1/calc.proto"}; !reflect.DeepEqual(names, want) {
		t.Errorf("files %q, want %q", names, want)
	}

	req, resp, err := svc.ProtoMessages("Div")
	if err != nil {
		t.Fatal(err)
	}
	if req.FullName() != "calc.v1.DivRequest" || resp.Fields().ByName("remainder").Number() != 2 {
		t.Errorf("Div resolves to %s -> %s", req.FullName(), resp.FullName())
	}
	if _, resp, err := svc.ProtoMessages("Record"); err != nil || resp.FullName() != "google.protobuf.Empty" {
		t.Errorf("Record returns %v (%v)", resp, err)
	}

	withFiles := func(files [][]byte) *runtime.ServiceDescription {
		cp := *svc
		cp.ProtoFiles = files
		return &cp
	}
	renamed := *svc
	renamed.Methods = slices.Clone(svc.Methods)
	renamed.Methods[0].Response = "calc.v1.Nope"
	for _, tt := range []struct {
		svc    *runtime.ServiceDescription
		method string
		want   string
	}{
		{svc, "Pow", "calc.v1.Calculator has no method Pow"},
		{d.Service(calculator.CalculatorServiceName), "Add", "does not name the messages of Add"},
		{withFiles(nil), "Add", "carries no .proto files"},
		{withFiles([][]byte{{0xff}}), "Add", ".proto file 1"},
		{&renamed, "Add", "do not declare calc.v1.Nope"},
		// Without its import, the service's file does not resolve.
		{withFiles(svc.ProtoFiles[1:]), "Add", "google/protobuf/empty.proto"},
	} {
		if _, _, err := tt.svc.ProtoMessages(tt.method); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s/%s: got error %v, want one containing %q", tt.svc.Name, tt.method, err, tt.want)
		}
	}
}

// adder is a Go interface shaped like a protobuf RPC service.
type adder interface {
	Add(ctx context.Context, req *calcv1.AddRequest) (*calcv1.AddResponse, error)
}

// A Go-interface service whose methods take and return messages is
// described with the files of those messages: the protobuf registry knows
// no service of its name.
func TestDescriptionCarriesTheMessagesOfAGoServiceShapedLikeProto(t *testing.T) {
	tr := memtransport.New()
	t.Cleanup(func() { _ = tr.Close() })
	srv := runtime.NewServer(tr)
	desc := &runtime.ServiceDesc{
		ServiceName: "gocalc.Adder",
		HandlerType: (*adder)(nil),
		Methods: []runtime.MethodDesc{{
			Name: "Add", Body: runtime.BodyMessage,
			NewArgs: func() any { return new(calcv1.AddRequest) },
			Call: func(ctx context.Context, impl, args any) (any, error) {
				return impl.(adder).Add(ctx, args.(*calcv1.AddRequest))
			},
		}},
	}
	if err := srv.RegisterService(desc, calcv1.Server{}); err != nil {
		t.Fatal(err)
	}
	svc := srv.Description().Service("gocalc.Adder")
	add := svc.Method("Add")
	if add.Request != "calc.v1.AddRequest" || add.Response != "calc.v1.AddResponse" {
		t.Errorf("Add: request %q, response %q", add.Request, add.Response)
	}
	req, resp, err := svc.ProtoMessages("Add")
	if err != nil {
		t.Fatal(err)
	}
	if req.Fields().ByName("b") == nil || resp.Fields().ByName("sum") == nil {
		t.Errorf("Add resolves to %s -> %s", req.FullName(), resp.FullName())
	}
}

// A caller with only the description builds requests and reads replies as
// dynamic messages, in either codec.
func TestProtoMethodCallsWithDynamicMessages(t *testing.T) {
	tr := memtransport.New()
	t.Cleanup(func() { _ = tr.Close() })
	srv := runtime.NewServer(tr)
	if err := calcv1.RegisterCalculator(srv, calcv1.Server{}); err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	c, err := runtime.NewClient(tr)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	d, err := runtime.Describe(ctx, c, calcv1.CalculatorServiceName)
	if err != nil {
		t.Fatal(err)
	}
	divReq, divResp, err := d.Service(calcv1.CalculatorServiceName).ProtoMessages("Div")
	if err != nil {
		t.Fatal(err)
	}
	for _, cd := range []codec.Codec{codec.Msgpack, codec.Proto} {
		req := dynamicpb.NewMessage(divReq)
		if err := protojson.Unmarshal([]byte(`{"a":"7","b":2}`), req); err != nil {
			t.Fatal(err)
		}
		resp := dynamicpb.NewMessage(divResp)
		if err := c.Invoke(ctx, calcv1.Calculator_Div_FullMethodName, req, resp, runtime.WithCodec(cd)); err != nil {
			t.Fatalf("%s: %v", cd.Name(), err)
		}
		got, err := protojson.Marshal(resp)
		if err != nil {
			t.Fatal(err)
		}
		want := &calcv1.DivResponse{Quotient: 3, Remainder: 1}
		var typed calcv1.DivResponse
		if err := protojson.Unmarshal(got, &typed); err != nil || !proto.Equal(&typed, want) {
			t.Errorf("%s: got %s (%v), want %v", cd.Name(), got, err, want)
		}
	}
}

func TestDescriptionDescribesTheNamedTypesOfParameters(t *testing.T) {
	tr := memtransport.New()
	t.Cleanup(func() { _ = tr.Close() })
	srv := runtime.NewServer(tr)
	if err := kinds.RegisterKinds(srv, kindsImpl{}); err != nil {
		t.Fatal(err)
	}
	svc := srv.Description().Service("kinds.Kinds")
	want := []runtime.TypeDescription{
		{Name: "shared.Point", Underlying: "struct", Fields: []runtime.Field{{Name: "X", Type: "int"}, {Name: "Y", Type: "int"}}},
		// Record refers to itself through Next: described once.
		{Name: "kinds.Record", Underlying: "struct", Fields: []runtime.Field{
			{Name: "Name", Type: "string"}, {Name: "Tags", Type: "[]string"}, {Name: "Attrs", Type: "map[string]string"},
			{Name: "Origin", Type: "shared.Point"}, {Name: "Next", Type: "*kinds.Record"},
		}},
		{Name: "shared.Tag", Underlying: "string"},
		{Name: "shared.Pair[string, int]", Underlying: "struct", Fields: []runtime.Field{{Name: "Key", Type: "string"}, {Name: "Value", Type: "int"}}},
		{Name: "kinds.Celsius", Underlying: "float64"},
		{Name: "kinds.Event", Underlying: "struct", Fields: []runtime.Field{{Name: "ID", Type: "int"}, {Name: "Kind", Type: "string"}}},
	}
	if !reflect.DeepEqual(svc.Types, want) {
		t.Errorf("types:\n got %+v\nwant %+v", svc.Types, want)
	}
	// Every named type a parameter names is described under that name.
	for _, m := range svc.Methods {
		for _, p := range m.Params {
			for _, name := range namedType.FindAllString(p.Type, -1) {
				if !strings.HasPrefix(name, "time.") && svc.Type(name) == nil {
					t.Errorf("%s: parameter %s of type %s: %s is not described", m.Name, p.Name, p.Type, name)
				}
			}
		}
	}
}

// namedType matches a package-qualified type name in a Field.Type.
var namedType = regexp.MustCompile(`[a-z]\w*\.[A-Z]\w*(\[[^\]]*\])?`)

// kindsImpl is a kinds.Kinds that is only registered, never called.
type kindsImpl struct{ kinds.Kinds }
