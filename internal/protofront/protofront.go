// Package protofront turns the services of .proto files, as protoc hands
// them to a plugin through google.golang.org/protobuf/compiler/protogen,
// into model services. A proto method takes one request message and
// returns one response message, and those messages are the request and
// reply bodies (model.Message): a proto service keeps its own wire shape,
// and the only generated code is the service description.
package protofront

import (
	"fmt"
	"strings"

	"google.golang.org/protobuf/compiler/protogen"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/mqrpc/mqrpc/internal/model"
)

// oneWayDirective is the comment line that makes a method fire-and-forget
// (model.OneWayDirective); it is not carried into generated doc comments.
const oneWayDirective = model.OneWayDirective

const emptyFullName = "google.protobuf.Empty"

// File describes the services of f. Problems (streaming methods, a
// one-way method with a response) are returned together as model.Errors,
// each naming the .proto file, the service and the method.
//
// Every Go identifier that protoc-gen-go declares for the files of
// plugin in f's Go package is listed in the result's Taken, so that the
// generated names avoid them, or are reported when they cannot.
func File(plugin *protogen.Plugin, f *protogen.File) (*model.File, error) {
	out := &model.File{
		Package:    string(f.GoPackageName),
		ImportPath: string(f.GoImportPath),
		Taken:      Declared(plugin, f.GoImportPath),
	}
	var errs model.Errors
	for _, s := range f.Services {
		svc := &model.Service{
			Name:             s.GoName,
			FullName:         string(s.Desc.FullName()),
			Doc:              docText(s.Comments.Leading),
			Pos:              pos(f, s.Desc),
			DeclareInterface: true,
		}
		for _, m := range s.Methods {
			mm, err := method(plugin, f, s, m)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			svc.Methods = append(svc.Methods, mm)
		}
		out.Services = append(out.Services, svc)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return out, nil
}

func method(plugin *protogen.Plugin, f *protogen.File, s *protogen.Service, m *protogen.Method) (*model.Method, *model.Error) {
	refuse := func(format string, args ...any) *model.Error {
		return &model.Error{
			Pos:     pos(f, m.Desc),
			Subject: fmt.Sprintf("service %s: method %s", s.Desc.FullName(), m.Desc.Name()),
			Msg:     fmt.Sprintf(format, args...),
		}
	}
	switch {
	case m.Desc.IsStreamingClient() && m.Desc.IsStreamingServer():
		return nil, refuse("bidirectional streaming is not supported; mqrpc carries one request and one reply per call")
	case m.Desc.IsStreamingClient():
		return nil, refuse("client streaming is not supported; mqrpc carries one request and one reply per call")
	case m.Desc.IsStreamingServer():
		return nil, refuse("server streaming is not supported; mqrpc carries one request and one reply per call")
	}
	out := &model.Method{
		Name:       m.GoName,
		Doc:        docText(m.Comments.Leading),
		Pos:        pos(f, m.Desc),
		Params:     []model.Param{{Name: "req", Type: messageType(plugin, m.Input)}},
		Results:    []model.Param{{Type: messageType(plugin, m.Output)}},
		OneWay:     hasDirective(m.Comments.Leading),
		Idempotent: idempotent(m.Desc),
		Body:       model.Message,
	}
	if name := string(m.Desc.Name()); name != m.GoName {
		out.WireName = name
	}
	if out.OneWay && m.Output.Desc.FullName() != emptyFullName {
		return nil, refuse("is marked %s but returns %s; a one-way call gets no reply, so it must return %s", oneWayDirective, m.Output.Desc.FullName(), emptyFullName)
	}
	return out, nil
}

// messageType is *M for the Go type of a message, wherever it is declared.
func messageType(plugin *protogen.Plugin, msg *protogen.Message) *model.Type {
	pkgName := ""
	if f, ok := plugin.FilesByPath[msg.Desc.ParentFile().Path()]; ok {
		pkgName = string(f.GoPackageName)
	}
	return &model.Type{Kind: model.Pointer, Elem: &model.Type{
		Kind:       model.Named,
		Name:       msg.GoIdent.GoName,
		ImportPath: string(msg.GoIdent.GoImportPath),
		PkgName:    pkgName,
	}}
}

// Declared lists the package-scope Go identifiers that protoc-gen-go
// declares for the files of plugin whose Go package is importPath.
func Declared(plugin *protogen.Plugin, importPath protogen.GoImportPath) []model.Ident {
	var ids []model.Ident
	add := func(f *protogen.File, name string, d protoreflect.Descriptor) {
		ids = append(ids, model.Ident{Name: name, Pos: pos(f, d)})
	}
	var enums func(f *protogen.File, es []*protogen.Enum)
	enums = func(f *protogen.File, es []*protogen.Enum) {
		for _, e := range es {
			add(f, e.GoIdent.GoName, e.Desc)
			add(f, e.GoIdent.GoName+"_name", e.Desc)
			add(f, e.GoIdent.GoName+"_value", e.Desc)
			for _, v := range e.Values {
				add(f, v.GoIdent.GoName, v.Desc)
			}
		}
	}
	var messages func(f *protogen.File, ms []*protogen.Message)
	messages = func(f *protogen.File, ms []*protogen.Message) {
		for _, m := range ms {
			if m.Desc.IsMapEntry() {
				continue
			}
			add(f, m.GoIdent.GoName, m.Desc)
			for _, o := range m.Oneofs {
				if o.Desc.IsSynthetic() {
					continue
				}
				for _, fl := range o.Fields {
					add(f, fl.GoIdent.GoName, fl.Desc)
				}
			}
			for _, x := range m.Extensions {
				add(f, x.GoIdent.GoName, x.Desc)
			}
			enums(f, m.Enums)
			messages(f, m.Messages)
		}
	}
	for _, f := range plugin.Files {
		if f.GoImportPath != importPath {
			continue
		}
		add(f, f.GoDescriptorIdent.GoName, f.Desc)
		enums(f, f.Enums)
		messages(f, f.Messages)
		for _, x := range f.Extensions {
			add(f, x.GoIdent.GoName, x.Desc)
		}
	}
	return ids
}

// pos is where d is declared, with the line when the request carried
// source info (protoc always sends it; descriptors compiled into Go
// programs have none).
func pos(f *protogen.File, d protoreflect.Descriptor) model.Pos {
	p := model.Pos{Filename: f.Desc.Path()}
	if loc := f.Desc.SourceLocations().ByDescriptor(d); loc.Path != nil {
		p.Line, p.Column = loc.StartLine+1, loc.StartColumn+1
	}
	return p
}

// docText turns a leading proto comment into doc text as go/ast's
// CommentGroup.Text does for Go comments: the first space after the
// comment marker and trailing spaces go, and so do blank lines at either
// end and repeated blank lines.
func docText(c protogen.Comments) string {
	var lines []string
	for l := range strings.SplitSeq(strings.TrimSuffix(string(c), "\n"), "\n") {
		l = strings.TrimRight(strings.TrimPrefix(l, " "), " \t\r")
		if strings.TrimSpace(l) == oneWayDirective {
			continue // a direction to the generator, as in Go doc comments
		}
		if l == "" && (len(lines) == 0 || lines[len(lines)-1] == "") {
			continue
		}
		lines = append(lines, l)
	}
	for len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	if len(lines) == 0 {
		return ""
	}
	return strings.Join(lines, "\n") + "\n"
}

// idempotent reports whether the method's idempotency_level option says
// it is safe to repeat: NO_SIDE_EFFECTS (a read) or IDEMPOTENT, as gRPC
// reads the option too.
func idempotent(m protoreflect.MethodDescriptor) bool {
	opts, ok := m.Options().(*descriptorpb.MethodOptions)
	if !ok || opts == nil {
		return false
	}
	switch opts.GetIdempotencyLevel() {
	case descriptorpb.MethodOptions_NO_SIDE_EFFECTS, descriptorpb.MethodOptions_IDEMPOTENT:
		return true
	}
	return false
}

// hasDirective reports whether a line of the comment is the one-way
// directive.
func hasDirective(c protogen.Comments) bool {
	for l := range strings.SplitSeq(string(c), "\n") {
		if strings.TrimSpace(l) == oneWayDirective {
			return true
		}
	}
	return false
}
