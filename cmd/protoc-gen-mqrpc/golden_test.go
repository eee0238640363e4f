package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/pluginpb"

	kitchenpb "github.com/mqrpc/mqrpc/testdata/proto/kitchen"
	"github.com/mqrpc/mqrpc/testdata/proto/legacy"
	multipb "github.com/mqrpc/mqrpc/testdata/proto/multi"
	sharedpb "github.com/mqrpc/mqrpc/testdata/proto/shared"
)

var update = flag.Bool("update", false, "rewrite the golden files with the plugin's output")

const goldenDir = "../../testdata/proto"

// goldenParameter and goldenFiles are what testdata/proto/doc.go's
// go:generate line passes to protoc.
const goldenParameter = "paths=source_relative"

var goldenFiles = []protoreflect.FileDescriptor{
	sharedpb.File_shared_shared_proto,
	multipb.File_multi_a_proto,
	multipb.File_multi_b_proto,
	legacy.File_legacy_legacy_proto,
	kitchenpb.File_kitchen_kitchen_proto,
}

// request builds the CodeGeneratorRequest protoc would send for files,
// from descriptors compiled into this test: every dependency first, and
// no source info (compiled-in descriptors have none).
func request(parameter string, files ...protoreflect.FileDescriptor) *pluginpb.CodeGeneratorRequest {
	req := &pluginpb.CodeGeneratorRequest{Parameter: proto.String(parameter)}
	seen := map[string]bool{}
	var add func(fd protoreflect.FileDescriptor)
	add = func(fd protoreflect.FileDescriptor) {
		if seen[fd.Path()] {
			return
		}
		seen[fd.Path()] = true
		for i := range fd.Imports().Len() {
			add(fd.Imports().Get(i).FileDescriptor)
		}
		req.ProtoFile = append(req.ProtoFile, protodesc.ToFileDescriptorProto(fd))
	}
	for _, fd := range files {
		add(fd)
		req.FileToGenerate = append(req.FileToGenerate, fd.Path())
	}
	return req
}

// TestGoldenFilesAreCurrent runs the plugin in process on the golden
// .proto files and compares every file it writes with the checked-in one.
// Their packages' tests call through those files.
func TestGoldenFilesAreCurrent(t *testing.T) {
	resp := generate(request(goldenParameter, goldenFiles...))
	if resp.Error != nil {
		t.Fatal(resp.GetError())
	}
	var names []string
	for _, f := range resp.File {
		names = append(names, f.GetName())
		path := filepath.Join(goldenDir, f.GetName())
		if *update {
			if err := os.WriteFile(path, []byte(f.GetContent()), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run go test ./cmd/protoc-gen-mqrpc -update)", err)
		}
		if !bytes.Equal(want, []byte(f.GetContent())) {
			t.Errorf("%s is stale; run go test ./cmd/protoc-gen-mqrpc -update", path)
		}
	}
	// shared.proto has no service, so it gets no file.
	if got, want := strings.Join(names, " "), "multi/a.mqrpc.go multi/b.mqrpc.go legacy/legacy.mqrpc.go kitchen/kitchen.mqrpc.go"; got != want {
		t.Errorf("wrote %s, want %s", got, want)
	}
	if resp.GetSupportedFeatures()&uint64(pluginpb.CodeGeneratorResponse_FEATURE_PROTO3_OPTIONAL) == 0 {
		t.Error("the plugin does not declare proto3 optional support")
	}
}

// TestOutputPaths checks the placement parameters that protoc-gen-go has.
func TestOutputPaths(t *testing.T) {
	for _, tt := range []struct{ param, want, err string }{
		{"", "github.com/mqrpc/mqrpc/testdata/proto/legacy/legacy.mqrpc.go", ""},
		{"paths=import", "github.com/mqrpc/mqrpc/testdata/proto/legacy/legacy.mqrpc.go", ""},
		{"paths=source_relative", "legacy/legacy.mqrpc.go", ""},
		{"module=github.com/mqrpc/mqrpc", "testdata/proto/legacy/legacy.mqrpc.go", ""},
		{"Mlegacy/legacy.proto=example.com/old;oldpb", "example.com/old/legacy.mqrpc.go", ""},
		{"paths=absolute", "", `unknown path type "absolute"`},
		{"flavour=mint", "", `unknown parameter "flavour"`},
	} {
		t.Run(tt.param, func(t *testing.T) {
			resp := generate(request(tt.param, legacy.File_legacy_legacy_proto))
			if tt.err != "" {
				if !strings.Contains(resp.GetError(), tt.err) {
					t.Fatalf("error %q, want one containing %q", resp.GetError(), tt.err)
				}
				return
			}
			if resp.Error != nil || len(resp.File) != 1 || resp.File[0].GetName() != tt.want {
				t.Fatalf("got %v, error %q; want one file %s", resp.File, resp.GetError(), tt.want)
			}
		})
	}
	resp := generate(request("Mlegacy/legacy.proto=example.com/old;oldpb", legacy.File_legacy_legacy_proto))
	if !strings.Contains(resp.File[0].GetContent(), "\npackage oldpb\n") {
		t.Error("M<file>=path;name does not name the package")
	}
}

// streamingFile is a .proto with one streaming method of each kind, built
// by hand because protoc-gen-go would compile it but mqrpc refuses it.
func streamingFile() *descriptorpb.FileDescriptorProto {
	msg := ".s.M"
	m := func(name string, client, server bool) *descriptorpb.MethodDescriptorProto {
		return &descriptorpb.MethodDescriptorProto{Name: proto.String(name), InputType: &msg, OutputType: &msg, ClientStreaming: proto.Bool(client), ServerStreaming: proto.Bool(server)}
	}
	return &descriptorpb.FileDescriptorProto{
		Name:        proto.String("s/stream.proto"),
		Package:     proto.String("s"),
		Syntax:      proto.String("proto3"),
		Options:     &descriptorpb.FileOptions{GoPackage: proto.String("example.com/s;spb")},
		MessageType: []*descriptorpb.DescriptorProto{{Name: proto.String("M")}},
		Service: []*descriptorpb.ServiceDescriptorProto{{
			Name:   proto.String("Feed"),
			Method: []*descriptorpb.MethodDescriptorProto{m("Get", false, false), m("Watch", false, true), m("Upload", true, false), m("Chat", true, true)},
		}},
		SourceCodeInfo: &descriptorpb.SourceCodeInfo{Location: []*descriptorpb.SourceCodeInfo_Location{
			{Path: []int32{6, 0, 2, 1}, Span: []int32{9, 2, 40}},
		}},
	}
}

func TestStreamingMethodsAreRefused(t *testing.T) {
	resp := generate(&pluginpb.CodeGeneratorRequest{FileToGenerate: []string{"s/stream.proto"}, ProtoFile: []*descriptorpb.FileDescriptorProto{streamingFile()}})
	want := "s/stream.proto:10: service s.Feed: method Watch: server streaming is not supported; mqrpc carries one request and one reply per call\n" +
		"s/stream.proto: service s.Feed: method Upload: client streaming is not supported; mqrpc carries one request and one reply per call\n" +
		"s/stream.proto: service s.Feed: method Chat: bidirectional streaming is not supported; mqrpc carries one request and one reply per call"
	if resp.GetError() != want {
		t.Errorf("error:\n%s\nwant:\n%s", resp.GetError(), want)
	}
	if len(resp.File) != 0 {
		t.Errorf("wrote %d files along with the error", len(resp.File))
	}
}

func TestVersionFlag(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run([]string{"--version"}, nil, &out, &errOut); code != 0 || out.String() != "protoc-gen-mqrpc "+version+"\n" {
		t.Errorf("--version: exit %d, %q", code, out.String())
	}
	if code := run([]string{"--bogus"}, nil, &out, &errOut); code != 2 {
		t.Errorf("--bogus: exit %d, want 2", code)
	}
}

// TestRunSpeaksThePluginProtocol drives run as protoc does: a request on
// stdin, a response on stdout.
func TestRunSpeaksThePluginProtocol(t *testing.T) {
	in, err := proto.Marshal(request(goldenParameter, legacy.File_legacy_legacy_proto))
	if err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	if code := run(nil, bytes.NewReader(in), &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	var resp pluginpb.CodeGeneratorResponse
	if err := proto.Unmarshal(out.Bytes(), &resp); err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(filepath.Join(goldenDir, "legacy/legacy.mqrpc.go"))
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.File) != 1 || resp.File[0].GetContent() != string(want) {
		t.Errorf("response does not carry the golden file: %v", &resp)
	}
}
