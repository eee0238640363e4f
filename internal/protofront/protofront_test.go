package protofront_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"google.golang.org/protobuf/compiler/protogen"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/pluginpb"

	"github.com/mqrpc/mqrpc/internal/gofront"
	"github.com/mqrpc/mqrpc/internal/model"
	"github.com/mqrpc/mqrpc/internal/protofront"
	"github.com/mqrpc/mqrpc/internal/testenv"
	"github.com/mqrpc/mqrpc/runtime"
)

// compile runs protoc (needed on PATH; under CI=true its absence fails
// the test) on file in dir, with source info, and returns the plugin
// protoc-gen-mqrpc would see.
func compile(t *testing.T, dir, file string) *protogen.Plugin {
	t.Helper()
	protoc, err := exec.LookPath("protoc")
	if err != nil {
		testenv.Missing(t, "protoc is not installed (apt-get install protobuf-compiler): %v", err)
	}
	set := filepath.Join(t.TempDir(), "set.binpb")
	cmd := exec.Command(protoc, "--include_source_info", "--include_imports", "--descriptor_set_out="+set, file)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("protoc: %v\n%s", err, out)
	}
	b, err := os.ReadFile(set)
	if err != nil {
		t.Fatal(err)
	}
	var fds descriptorpb.FileDescriptorSet
	if err := proto.Unmarshal(b, &fds); err != nil {
		t.Fatal(err)
	}
	plugin, err := protogen.Options{}.New(&pluginpb.CodeGeneratorRequest{FileToGenerate: []string{file}, ProtoFile: fds.File})
	if err != nil {
		t.Fatal(err)
	}
	return plugin
}

// TestBothFrontEndsDescribeTheSameCalculator loads the Calculator of
// testdata/proto/calculator/calculator.proto and its twin declared as a
// Go interface over the same messages (testdata/proto/calculator/gocalc):
// the two service models are equal but for what differs by design, the
// source positions and DeclareInterface (protoc-gen-mqrpc declares the
// interface, mqrpcgen serves the user's own). Equal models give equal
// generated clients and servers, so each front end's code calls the
// other's (gocalc's tests make those calls).
func TestBothFrontEndsDescribeTheSameCalculator(t *testing.T) {
	goFile, err := gofront.Load(gofront.Config{Dir: "../../testdata/proto/calculator/gocalc", Types: []string{"Calculator"}})
	if err != nil {
		t.Fatal(err)
	}
	plugin := compile(t, "../../testdata/proto", "calculator/calculator.proto")
	pbFile, err := protofront.File(plugin, plugin.FilesByPath["calculator/calculator.proto"])
	if err != nil {
		t.Fatal(err)
	}
	g, p := withoutPositions(goFile.Services[0]), withoutPositions(pbFile.Services[0])
	if len(g.Methods) != 5 {
		t.Fatalf("the Go Calculator has %d methods, want 5", len(g.Methods))
	}
	if !reflect.DeepEqual(g, p) {
		gm, pm := g.Methods, p.Methods
		g.Methods, p.Methods = nil, nil
		if !reflect.DeepEqual(g, p) {
			t.Errorf("services differ:\n go    %s\n proto %s", dump(g), dump(p))
		}
		if len(gm) != len(pm) {
			t.Fatalf("go has %d methods, proto %d", len(gm), len(pm))
		}
		for i := range gm {
			if !reflect.DeepEqual(gm[i], pm[i]) {
				t.Errorf("method %d differs:\n go    %s\n proto %s", i, dump(gm[i]), dump(pm[i]))
			}
		}
	}
	for _, m := range g.Methods {
		if m.Body != model.Message {
			t.Errorf("method %s: body %v, want Message", m.Name, m.Body)
		}
		// Equal models must not be equal for want of the flag: every
		// method is marked, by a doc line on one side and by
		// idempotency_level on the other.
		if !m.Idempotent {
			t.Errorf("method %s is not idempotent, want it marked on both sides", m.Name)
		}
	}
}

// withoutPositions returns a copy of svc without what the two front ends set
// differently by design.
func withoutPositions(svc *model.Service) *model.Service {
	c := *svc
	c.Pos, c.DeclareInterface = model.Pos{}, false
	c.Methods = nil
	for _, m := range svc.Methods {
		mc := *m
		mc.Pos = model.Pos{}
		c.Methods = append(c.Methods, &mc)
	}
	return &c
}

// dump spells out a service or method, types included.
func dump(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return err.Error()
	}
	return string(b)
}

// TestPositionalGoCalculatorSharesOnlyNamesWithTheProto loads the
// Calculator of examples/calculator, which takes and returns plain Go
// values, beside calculator.proto. Its service and method names, docs and
// hence topic and full method names equal the .proto's, so both reach
// the same queue and method; its bodies are positional msgpack arrays,
// not the .proto's messages, so the two do not call each other.
func TestPositionalGoCalculatorSharesOnlyNamesWithTheProto(t *testing.T) {
	goFile, err := gofront.Load(gofront.Config{Dir: "../../examples/calculator/calculator", Types: []string{"Calculator"}})
	if err != nil {
		t.Fatal(err)
	}
	plugin := compile(t, "../../testdata/proto", "calculator/calculator.proto")
	pbFile, err := protofront.File(plugin, plugin.FilesByPath["calculator/calculator.proto"])
	if err != nil {
		t.Fatal(err)
	}
	g, p := goFile.Services[0], pbFile.Services[0]
	if g.Name != p.Name || g.FullName != p.FullName || g.Doc != p.Doc {
		t.Errorf("services differ:\n go    %q %q %q\n proto %q %q %q", g.Name, g.FullName, g.Doc, p.Name, p.FullName, p.Doc)
	}
	if runtime.TopicFor(g.FullName) != runtime.TopicFor(p.FullName) {
		t.Errorf("topics differ")
	}
	if len(g.Methods) != len(p.Methods) {
		t.Fatalf("go has %d methods, proto %d", len(g.Methods), len(p.Methods))
	}
	for i, gm := range g.Methods {
		pm := p.Methods[i]
		if gm.Name != pm.Name || gm.WireMethodName() != pm.WireMethodName() || gm.Doc != pm.Doc || gm.OneWay != pm.OneWay || gm.Idempotent != pm.Idempotent {
			t.Errorf("method %d differs:\n go    %q %q %q %v %v\n proto %q %q %q %v %v", i, gm.Name, gm.WireMethodName(), gm.Doc, gm.OneWay, gm.Idempotent,
				pm.Name, pm.WireMethodName(), pm.Doc, pm.OneWay, pm.Idempotent)
		}
		if runtime.FullMethodName(g.FullName, gm.WireMethodName()) != runtime.FullMethodName(p.FullName, pm.WireMethodName()) {
			t.Errorf("method %s: full method names differ", gm.Name)
		}
		if gm.Body != model.Positional || pm.Body != model.Message {
			t.Errorf("method %s: bodies %v and %v, want Positional and Message", gm.Name, gm.Body, pm.Body)
		}
	}
}

// TestCommentsAndOneWayFromSourceInfo builds a request by hand with the
// source info protoc sends, so it needs no protoc.
func TestCommentsAndOneWayFromSourceInfo(t *testing.T) {
	file := func(output string) *descriptorpb.FileDescriptorProto {
		return &descriptorpb.FileDescriptorProto{
			Name:       proto.String("n/note.proto"),
			Package:    proto.String("n.v1"),
			Syntax:     proto.String("proto3"),
			Dependency: []string{"google/protobuf/empty.proto"},
			Options:    &descriptorpb.FileOptions{GoPackage: proto.String("example.com/n;npb")},
			MessageType: []*descriptorpb.DescriptorProto{
				{Name: proto.String("Note")},
			},
			Service: []*descriptorpb.ServiceDescriptorProto{{
				Name: proto.String("Notes"),
				Method: []*descriptorpb.MethodDescriptorProto{
					{Name: proto.String("post_note"), InputType: proto.String(".n.v1.Note"), OutputType: proto.String(output)},
				},
			}},
			SourceCodeInfo: &descriptorpb.SourceCodeInfo{Location: []*descriptorpb.SourceCodeInfo_Location{
				{Path: []int32{6, 0}, Span: []int32{3, 0, 8, 1}, LeadingComments: proto.String(" Notes keeps notes.\n\n\n   Indented.  \n")},
				{Path: []int32{6, 0, 2, 0}, Span: []int32{6, 2, 40}, LeadingComments: proto.String(" PostNote files a note.\n\n mqrpc:oneway\n")},
			}},
		}
	}
	empty := protodesc.ToFileDescriptorProto(emptypb.File_google_protobuf_empty_proto)
	load := func(output string) (*model.File, error) {
		plugin, err := protogen.Options{}.New(&pluginpb.CodeGeneratorRequest{
			FileToGenerate: []string{"n/note.proto"},
			ProtoFile:      []*descriptorpb.FileDescriptorProto{empty, file(output)},
		})
		if err != nil {
			t.Fatal(err)
		}
		return protofront.File(plugin, plugin.FilesByPath["n/note.proto"])
	}

	f, err := load(".google.protobuf.Empty")
	if err != nil {
		t.Fatal(err)
	}
	svc := f.Services[0]
	if want := "Notes keeps notes.\n\n  Indented.\n"; svc.Doc != want {
		t.Errorf("service doc %q, want %q", svc.Doc, want)
	}
	m := svc.Methods[0]
	if m.Name != "PostNote" || m.WireName != "post_note" || !m.OneWay || m.Doc != "PostNote files a note.\n" || m.Pos.Line != 7 {
		t.Errorf("method %+v", m)
	}
	if got := m.Results[0].Type.Elem; got.ImportPath != "google.golang.org/protobuf/types/known/emptypb" || got.PkgName != "emptypb" || got.Name != "Empty" {
		t.Errorf("result type %+v", got)
	}

	_, err = load(".n.v1.Note")
	if want := "n/note.proto:7: service n.v1.Notes: method post_note: is marked mqrpc:oneway but returns n.v1.Note; a one-way call gets no reply, so it must return google.protobuf.Empty"; err == nil || err.Error() != want {
		t.Errorf("got %v, want %q", err, want)
	}
}

// A method is safe to repeat when its idempotency_level says it has no
// side effects or is idempotent; unset or unknown is not.
func TestIdempotencyLevelMarksMethodsSafeToRepeat(t *testing.T) {
	levels := []*descriptorpb.MethodOptions_IdempotencyLevel{
		nil,
		descriptorpb.MethodOptions_IDEMPOTENCY_UNKNOWN.Enum(),
		descriptorpb.MethodOptions_NO_SIDE_EFFECTS.Enum(),
		descriptorpb.MethodOptions_IDEMPOTENT.Enum(),
	}
	var methods []*descriptorpb.MethodDescriptorProto
	for i, level := range levels {
		m := &descriptorpb.MethodDescriptorProto{Name: proto.String(fmt.Sprintf("M%d", i)), InputType: proto.String(".n.v1.Note"), OutputType: proto.String(".n.v1.Note")}
		if level != nil {
			m.Options = &descriptorpb.MethodOptions{IdempotencyLevel: level}
		}
		methods = append(methods, m)
	}
	plugin, err := protogen.Options{}.New(&pluginpb.CodeGeneratorRequest{
		FileToGenerate: []string{"n/note.proto"},
		ProtoFile: []*descriptorpb.FileDescriptorProto{{
			Name:        proto.String("n/note.proto"),
			Package:     proto.String("n.v1"),
			Syntax:      proto.String("proto3"),
			Options:     &descriptorpb.FileOptions{GoPackage: proto.String("example.com/n;npb")},
			MessageType: []*descriptorpb.DescriptorProto{{Name: proto.String("Note")}},
			Service:     []*descriptorpb.ServiceDescriptorProto{{Name: proto.String("Notes"), Method: methods}},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	f, err := protofront.File(plugin, plugin.FilesByPath["n/note.proto"])
	if err != nil {
		t.Fatal(err)
	}
	var got []bool
	for _, m := range f.Services[0].Methods {
		got = append(got, m.Idempotent)
	}
	if want := []bool{false, false, true, true}; !reflect.DeepEqual(got, want) {
		t.Errorf("idempotent %v for levels unset, IDEMPOTENCY_UNKNOWN, NO_SIDE_EFFECTS, IDEMPOTENT; want %v", got, want)
	}
}

func TestDeclaredNamesIncludeWhatProtocGenGoWrites(t *testing.T) {
	plugin := compile(t, "../../testdata/proto", "kitchen/kitchen.proto")
	var names []string
	for _, id := range protofront.Declared(plugin, plugin.FilesByPath["kitchen/kitchen.proto"].GoImportPath) {
		names = append(names, id.Name)
	}
	got := " " + strings.Join(names, " ") + " "
	for _, want := range []string{"Sink", "Sink_Inner", "Color", "Color_name", "Color_value", "Color_COLOR_RED", "Sink_Name", "Sink_InnerChoice", "File_kitchen_kitchen_proto"} {
		if !strings.Contains(got, " "+want+" ") {
			t.Errorf("Declared lacks %s: %s", want, got)
		}
	}
}
