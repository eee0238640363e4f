// Command protoc-gen-mqrpc is a protoc plugin that generates mqrpc clients
// and servers for the services of .proto files. Run it beside
// protoc-gen-go, which generates the messages:
//
//	protoc --go_out=. --go_opt=paths=source_relative \
//	    --mqrpc_out=. --mqrpc_opt=paths=source_relative calc.proto
//
// For calc.proto it writes calc.mqrpc.go next to calc.pb.go, declaring for
// each service S: SServiceName and one S_M_FullMethodName per method, the
// interface S, SClient and NewSClient, and RegisterS. It accepts the
// parameters protoc-gen-go accepts for placing files: paths=import (the
// default) or paths=source_relative, module=PREFIX and M<file>=<import path>.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"google.golang.org/protobuf/compiler/protogen"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/pluginpb"

	"github.com/mqrpc/mqrpc/internal/gen"
	"github.com/mqrpc/mqrpc/internal/model"
	"github.com/mqrpc/mqrpc/internal/protofront"
)

const usage = `Usage: protoc --mqrpc_out=DIR [--mqrpc_opt=PARAM,...] FILE.proto...

protoc-gen-mqrpc is a protoc plugin: protoc runs it, it is not run by hand.
It writes FILE.mqrpc.go, the mqrpc client and server of the services in
FILE.proto, into the Go package protoc-gen-go writes FILE.pb.go into.

Parameters (--mqrpc_opt), as protoc-gen-go has them:
	paths=import|source_relative   where output files go (default import)
	module=PREFIX                  strip PREFIX from output paths
	M<file>=<import path>          the Go package of a .proto file

Flags:
	--version   print the version and exit
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "--version", "-version":
			fmt.Fprintln(stdout, "protoc-gen-mqrpc", gen.Version)
			return 0
		case "-h", "-help", "--help":
			fmt.Fprint(stdout, usage)
			return 0
		}
		fmt.Fprintf(stderr, "protoc-gen-mqrpc: unknown argument %q\n%s", args[0], usage)
		return 2
	}
	in, err := io.ReadAll(stdin)
	if err != nil {
		fmt.Fprintln(stderr, "protoc-gen-mqrpc: read request:", err)
		return 1
	}
	req := new(pluginpb.CodeGeneratorRequest)
	if err := proto.Unmarshal(in, req); err != nil {
		fmt.Fprintln(stderr, "protoc-gen-mqrpc: parse request:", err)
		return 1
	}
	out, err := proto.Marshal(generate(req))
	if err != nil {
		fmt.Fprintln(stderr, "protoc-gen-mqrpc: encode response:", err)
		return 1
	}
	if _, err := stdout.Write(out); err != nil {
		fmt.Fprintln(stderr, "protoc-gen-mqrpc: write response:", err)
		return 1
	}
	return 0
}

// generate answers one request. Problems with the input travel in the
// response's error, which protoc prints as "--mqrpc_out: ..." and fails.
func generate(req *pluginpb.CodeGeneratorRequest) *pluginpb.CodeGeneratorResponse {
	opts := protogen.Options{ParamFunc: func(name, value string) error {
		return fmt.Errorf("unknown parameter %q; protoc-gen-mqrpc accepts paths=, module= and M<file>=", name)
	}}
	plugin, err := opts.New(req)
	if err != nil {
		return &pluginpb.CodeGeneratorResponse{Error: proto.String("protoc-gen-mqrpc: " + err.Error())}
	}
	plugin.SupportedFeatures = uint64(pluginpb.CodeGeneratorResponse_FEATURE_PROTO3_OPTIONAL | pluginpb.CodeGeneratorResponse_FEATURE_SUPPORTS_EDITIONS)
	plugin.SupportedEditionsMinimum = descriptorpb.Edition_EDITION_PROTO2
	plugin.SupportedEditionsMaximum = descriptorpb.Edition_EDITION_2023
	if err := generateFiles(plugin); err != nil {
		plugin.Error(errors.New(formatError(err)))
	}
	return plugin.Response()
}

// generateFiles writes one .mqrpc.go per file that has services. Files of
// one Go package are written in request order, each avoiding the names the
// ones before it declared.
func generateFiles(plugin *protogen.Plugin) error {
	declared := map[protogen.GoImportPath][]model.Ident{}
	var errs model.Errors
	for _, f := range plugin.Files {
		if !f.Generate || len(f.Services) == 0 {
			continue
		}
		mf, err := protofront.File(plugin, f)
		if err != nil {
			var list model.Errors
			if errors.As(err, &list) {
				errs = append(errs, list...)
				continue
			}
			return err
		}
		mf.Generator = "protoc-gen-mqrpc " + gen.Version
		mf.Source = f.Desc.Path()
		mf.Taken = append(mf.Taken, declared[f.GoImportPath]...)
		src, err := gen.Generate(mf)
		if err != nil {
			return err
		}
		name := f.GeneratedFilenamePrefix + ".mqrpc.go"
		ids, err := gen.Declared(name, src)
		if err != nil {
			return err
		}
		declared[f.GoImportPath] = append(declared[f.GoImportPath], ids...)
		if _, err := plugin.NewGeneratedFile(name, f.GoImportPath).Write(src); err != nil {
			return err
		}
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// formatError writes err as one line per problem, each starting with the
// .proto file (and line, when protoc sent source info).
func formatError(err error) string {
	lines, ok := model.Problems(err, func(p model.Pos) string {
		if p.Line > 0 {
			return fmt.Sprintf("%s:%d", p.Filename, p.Line)
		}
		return p.Filename
	})
	if !ok {
		return "protoc-gen-mqrpc: " + err.Error()
	}
	return strings.Join(lines, "\n")
}
