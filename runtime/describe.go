package runtime

import (
	"context"
	"encoding"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strings"

	"github.com/vmihailenco/msgpack/v5"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
)

// DescribeMethod is the method name every Server answers on every service
// topic it serves, like gRPC's server reflection: a call of
// "/<service>/mqrpc.Describe" with no arguments returns the Description of
// all the services of that server. The dot keeps it apart from the methods
// of any service, whose names are Go or protobuf identifiers.
const DescribeMethod = "mqrpc.Describe"

// Field is a parameter or a result of a method: its name in the source (empty
// when it has none) and its Go type as written in the declaring package,
// qualified by package name ("int", "[]byte", "calculator.Series",
// "*calcv1.AddRequest"). Generated code fills them in.
type Field struct {
	Name string `msgpack:"name" json:"name,omitempty"`
	Type string `msgpack:"type" json:"type"`
}

// BodyKind says how a method's arguments and results travel in message
// bodies.
type BodyKind uint8

const (
	// BodyPositional bodies are arrays of the parameters and of the
	// results (Go-interface services).
	BodyPositional BodyKind = iota
	// BodyMessage bodies are the one request message and the one response
	// message themselves (.proto services).
	BodyMessage
)

func (k BodyKind) String() string {
	if k == BodyMessage {
		return "message"
	}
	return "positional"
}

// Description is what a server answers to DescribeMethod.
type Description struct {
	Services []ServiceDescription `msgpack:"services" json:"services"`
}

// Service returns the description of the named service, or nil.
func (d *Description) Service(name string) *ServiceDescription {
	for i := range d.Services {
		if d.Services[i].Name == name {
			return &d.Services[i]
		}
	}
	return nil
}

// ServiceDescription describes one service of a server.
type ServiceDescription struct {
	Name    string              `msgpack:"name" json:"name"`
	Topic   string              `msgpack:"topic" json:"topic"`
	Methods []MethodDescription `msgpack:"methods" json:"methods"`
	// ProtoFiles are the serialized google.protobuf.FileDescriptorProto
	// messages of a service generated from a .proto file: the file that
	// declares the service and every file it imports, transitively, each
	// once, every file after its imports. They are what gRPC server
	// reflection answers to file_containing_symbol, and all a caller
	// without generated code needs to build requests and read replies
	// (see ProtoMessages). A Go-interface service whose methods
	// take and return protobuf messages carries the files of those
	// messages. Empty when no method's body is a message.
	ProtoFiles [][]byte `msgpack:"proto_files,omitempty" json:"proto_files,omitempty"`
	// Types describes the named types that the parameters of positional
	// methods use, by the name their Field.Type gives them, so that a
	// caller can check the fields of a struct argument.
	Types []TypeDescription `msgpack:"types,omitempty" json:"types,omitempty"`
}

// Type returns the description of the named type, or nil.
func (s *ServiceDescription) Type(name string) *TypeDescription {
	for i := range s.Types {
		if s.Types[i].Name == name {
			return &s.Types[i]
		}
	}
	return nil
}

// TypeDescription describes a named Go type: what it is underneath
// ("float64", "[]string", "map[string]int", or "struct") and, for a struct,
// the fields msgpack encodes, named by their msgpack keys.
type TypeDescription struct {
	Name       string  `msgpack:"name" json:"name"`
	Underlying string  `msgpack:"underlying" json:"underlying"`
	Fields     []Field `msgpack:"fields,omitempty" json:"fields,omitempty"`
}

// ProtoMessages resolves the request and response messages of the named
// "message" method from ProtoFiles, for callers that have no generated
// code for the service (dynamicpb).
func (s *ServiceDescription) ProtoMessages(method string) (req, resp protoreflect.MessageDescriptor, err error) {
	m := s.Method(method)
	switch {
	case m == nil:
		return nil, nil, fmt.Errorf("%s has no method %s", s.Name, method)
	case m.Request == "" || m.Response == "":
		return nil, nil, fmt.Errorf("the description of %s does not name the messages of %s", s.Name, method)
	case len(s.ProtoFiles) == 0:
		return nil, nil, fmt.Errorf("the description of %s carries no .proto files", s.Name)
	}
	set := &descriptorpb.FileDescriptorSet{File: make([]*descriptorpb.FileDescriptorProto, len(s.ProtoFiles))}
	for i, b := range s.ProtoFiles {
		set.File[i] = new(descriptorpb.FileDescriptorProto)
		if err := proto.Unmarshal(b, set.File[i]); err != nil {
			return nil, nil, fmt.Errorf("the description of %s: .proto file %d: %w", s.Name, i+1, err)
		}
	}
	files, err := protodesc.NewFiles(set)
	if err != nil {
		return nil, nil, fmt.Errorf("the description of %s: %w", s.Name, err)
	}
	find := func(name string) (protoreflect.MessageDescriptor, error) {
		d, err := files.FindDescriptorByName(protoreflect.FullName(name))
		if err != nil {
			return nil, fmt.Errorf("the .proto files of %s do not declare %s: %w", s.Name, name, err)
		}
		md, ok := d.(protoreflect.MessageDescriptor)
		if !ok {
			return nil, fmt.Errorf("%s is not a message in the .proto files of %s", name, s.Name)
		}
		return md, nil
	}
	if req, err = find(m.Request); err != nil {
		return nil, nil, err
	}
	if resp, err = find(m.Response); err != nil {
		return nil, nil, err
	}
	return req, resp, nil
}

// Method returns the description of the named method, or nil.
func (s *ServiceDescription) Method(name string) *MethodDescription {
	for i := range s.Methods {
		if s.Methods[i].Name == name {
			return &s.Methods[i]
		}
	}
	return nil
}

// MethodDescription describes one method: enough for a caller without
// generated code to build its request and read its reply.
type MethodDescription struct {
	Name       string `msgpack:"name" json:"name"`
	FullMethod string `msgpack:"full_method" json:"full_method"`
	OneWay     bool   `msgpack:"one_way,omitempty" json:"one_way,omitempty"`
	// Idempotent methods are safe to repeat (MethodDesc.Idempotent).
	Idempotent bool `msgpack:"idempotent,omitempty" json:"idempotent,omitempty"`
	// Body is "positional" or "message" (BodyKind.String).
	Body    string  `msgpack:"body" json:"body"`
	Params  []Field `msgpack:"params" json:"params"`
	Results []Field `msgpack:"results" json:"results"`
	// Request and Response are the full protobuf names of the messages of
	// a "message" method ("calc.v1.AddRequest"), declared in the service's
	// ProtoFiles.
	Request  string `msgpack:"request,omitempty" json:"request,omitempty"`
	Response string `msgpack:"response,omitempty" json:"response,omitempty"`
}

// describeArgs and describeResults are the wire form of DescribeMethod:
// an empty argument array, and an array holding the Description.
type describeArgs struct {
	_msgpack struct{} `msgpack:",as_array"`
}

type describeResults struct {
	_msgpack    struct{} `msgpack:",as_array"`
	Description Description
}

// Describe asks the server of service for its Description, through c.
// opts can name the topic (WithTopic) and bound the wait (WithTimeout).
func Describe(ctx context.Context, c *Client, service string, opts ...CallOption) (*Description, error) {
	var out describeResults
	if err := c.Invoke(ctx, FullMethodName(service, DescribeMethod), &describeArgs{}, &out, opts...); err != nil {
		return nil, err
	}
	return &out.Description, nil
}

// anyService is the service part of the describe method that a server
// answers on any of its topics, for callers that know a topic but not the
// services on it.
const anyService = "mqrpc"

// DescribeTopic asks the server that consumes topic for its Description,
// without knowing the services on the topic.
func DescribeTopic(ctx context.Context, c *Client, topic string, opts ...CallOption) (*Description, error) {
	var out describeResults
	opts = append(opts[:len(opts):len(opts)], WithTopic(topic))
	if err := c.Invoke(ctx, FullMethodName(anyService, DescribeMethod), &describeArgs{}, &out, opts...); err != nil {
		return nil, err
	}
	return &out.Description, nil
}

// Description returns the description of every service registered on s,
// in the order they were registered, as DescribeMethod answers it.
func (s *Server) Description() *Description {
	s.mu.Lock()
	descs := slices.Clone(s.descs)
	s.mu.Unlock()
	d := &Description{Services: make([]ServiceDescription, 0, len(descs))}
	for _, sd := range descs {
		svc := ServiceDescription{Name: sd.ServiceName, Topic: s.topicOf(sd.ServiceName)}
		pd := protoService(sd)
		var files []protoreflect.FileDescriptor
		if pd != nil {
			files = append(files, pd.ParentFile())
		}
		for i := range sd.Methods {
			m := &sd.Methods[i]
			md := describeMethod(sd, m)
			if m.Body == BodyMessage {
				req, resp := protoMessages(sd, pd, m)
				if req != nil {
					md.Request = string(req.FullName())
					files = append(files, req.ParentFile())
				}
				if resp != nil {
					md.Response = string(resp.FullName())
					files = append(files, resp.ParentFile())
				}
			}
			svc.Methods = append(svc.Methods, md)
		}
		svc.ProtoFiles = protoFiles(files)
		svc.Types = paramTypes(sd)
		d.Services = append(d.Services, svc)
	}
	return d
}

func describeMethod(sd *ServiceDesc, m *MethodDesc) MethodDescription {
	return MethodDescription{
		Name:       m.Name,
		FullMethod: FullMethodName(sd.ServiceName, m.Name),
		OneWay:     m.OneWay,
		Idempotent: m.Idempotent,
		Body:       m.Body.String(),
		Params:     nonNil(m.Params),
		Results:    nonNil(m.Results),
	}
}

func nonNil(f []Field) []Field {
	if f == nil {
		return []Field{}
	}
	return f
}

// protoService finds the descriptor of a service generated from a .proto
// file in the binary's protobuf registry, where protoc-gen-go's code
// registers every file: the generated package that declares the service's
// messages is linked in with it, so the generated mqrpc code need not
// carry the descriptor itself. It returns nil for Go-interface services,
// whose names the registry does not know.
func protoService(sd *ServiceDesc) protoreflect.ServiceDescriptor {
	if !slices.ContainsFunc(sd.Methods, func(m MethodDesc) bool { return m.Body == BodyMessage }) {
		return nil
	}
	d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(sd.ServiceName))
	if err != nil {
		return nil
	}
	pd, _ := d.(protoreflect.ServiceDescriptor)
	return pd
}

// protoMessages finds the request and response messages of a "message"
// method: in the .proto service when there is one, else from the Go types
// that the method takes and returns, for a Go-interface service whose
// methods are shaped like protobuf RPCs.
func protoMessages(sd *ServiceDesc, pd protoreflect.ServiceDescriptor, m *MethodDesc) (req, resp protoreflect.MessageDescriptor) {
	if pd != nil {
		if md := pd.Methods().ByName(protoreflect.Name(m.Name)); md != nil {
			return md.Input(), md.Output()
		}
	}
	if m.NewArgs != nil {
		if pm, ok := m.NewArgs().(protoreflect.ProtoMessage); ok {
			req = pm.ProtoReflect().Descriptor()
		}
	}
	// HandlerType is a nil pointer to the service interface, whose method
	// returns a pointer to the response message.
	if t := reflect.TypeOf(sd.HandlerType); t != nil && t.Kind() == reflect.Pointer && t.Elem().Kind() == reflect.Interface {
		if meth, ok := t.Elem().MethodByName(m.Name); ok && meth.Type.NumOut() > 0 {
			out := meth.Type.Out(0)
			if out.Kind() == reflect.Pointer {
				if pm, ok := reflect.New(out.Elem()).Interface().(protoreflect.ProtoMessage); ok {
					resp = pm.ProtoReflect().Descriptor()
				}
			}
		}
	}
	return req, resp
}

// protoFiles serializes files and the files they import, transitively,
// each once, every file after its imports; nil for none.
func protoFiles(files []protoreflect.FileDescriptor) [][]byte {
	var out [][]byte
	seen := map[string]bool{}
	var add func(f protoreflect.FileDescriptor)
	add = func(f protoreflect.FileDescriptor) {
		if seen[f.Path()] || f.IsPlaceholder() {
			return
		}
		seen[f.Path()] = true
		imports := f.Imports()
		for i := range imports.Len() {
			add(imports.Get(i).FileDescriptor)
		}
		b, err := proto.MarshalOptions{Deterministic: true}.Marshal(protodesc.ToFileDescriptorProto(f))
		if err != nil {
			// A descriptor the registry built always serializes; a
			// file that does not leaves the caller to report what
			// it cannot resolve.
			return
		}
		out = append(out, b)
	}
	for _, f := range files {
		add(f)
	}
	return out
}

// paramTypes describes the named types that the parameters of sd's
// positional methods use, found by reflection on the argument structs that
// generated code decodes into: they hold the parameters with their Go types.
func paramTypes(sd *ServiceDesc) []TypeDescription {
	var out []TypeDescription
	seen := map[reflect.Type]bool{}
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		if seen[t] {
			return
		}
		seen[t] = true
		switch t.Kind() {
		case reflect.Pointer, reflect.Slice, reflect.Array:
			walk(t.Elem())
		case reflect.Map:
			walk(t.Key())
			walk(t.Elem())
		}
		if t.Name() == "" || t.PkgPath() == "" || t.PkgPath() == "time" || encodesItself(t) {
			return
		}
		td := TypeDescription{Name: goType(t), Underlying: underlying(t)}
		if t.Kind() == reflect.Struct {
			td.Fields = structFields(t, walk)
		}
		out = append(out, td)
	}
	for i := range sd.Methods {
		m := &sd.Methods[i]
		if m.Body != BodyPositional || m.NewArgs == nil {
			continue
		}
		args := reflect.TypeOf(m.NewArgs())
		if args == nil || args.Kind() != reflect.Pointer || args.Elem().Kind() != reflect.Struct {
			continue
		}
		for f := range args.Elem().Fields() {
			if f.IsExported() {
				walk(f.Type)
			}
		}
	}
	return out
}

var (
	customEncoderType   = reflect.TypeFor[msgpack.CustomEncoder]()
	marshalerType       = reflect.TypeFor[msgpack.Marshaler]()
	binaryMarshalerType = reflect.TypeFor[encoding.BinaryMarshaler]()
	textMarshalerType   = reflect.TypeFor[encoding.TextMarshaler]()
)

// encodesItself reports whether msgpack encodes t by a method of t rather
// than by its fields or elements, so that its form is unknown.
func encodesItself(t reflect.Type) bool {
	for _, i := range []reflect.Type{customEncoderType, marshalerType, binaryMarshalerType, textMarshalerType} {
		if t.Implements(i) || reflect.PointerTo(t).Implements(i) {
			return true
		}
	}
	return false
}

// underlying writes the type underneath a named type as goType does; a
// struct is just "struct", its fields are described apart.
func underlying(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Struct:
		return "struct"
	case reflect.Interface:
		return "any"
	case reflect.Pointer:
		return "*" + goType(t.Elem())
	case reflect.Slice:
		return "[]" + goType(t.Elem())
	case reflect.Array:
		return fmt.Sprintf("[%d]%s", t.Len(), goType(t.Elem()))
	case reflect.Map:
		return "map[" + goType(t.Key()) + "]" + goType(t.Elem())
	}
	return t.Kind().String()
}

// importPaths matches the import paths that reflect writes before the
// type arguments of a generic type ("github.com/x/shared.").
var importPaths = regexp.MustCompile(`[\w.~-]+(/[\w.~-]+)*/`)

// goType writes t as the generator writes a Field.Type: named types
// qualified by package name, type arguments separated by ", "
// ("shared.Pair[string, int]"), so that a caller finds the types that
// parameters name.
func goType(t reflect.Type) string {
	if t.Name() != "" {
		s := t.String()
		if strings.Contains(s, "[") {
			s = strings.ReplaceAll(importPaths.ReplaceAllString(s, ""), ",", ", ")
		}
		return s
	}
	switch t.Kind() {
	case reflect.Pointer, reflect.Slice, reflect.Array, reflect.Map:
		return underlying(t)
	}
	return t.String()
}

// structFields lists the fields msgpack encodes for struct type t, by
// their msgpack keys, as its encoder does: exported fields, named by their
// msgpack tag or else their Go name, "-" left out, and the fields of an
// untagged embedded struct in place of it. walk sees every field's type.
func structFields(t reflect.Type, walk func(reflect.Type)) []Field {
	var out []Field
	for f := range t.Fields() {
		tag := f.Tag.Get("msgpack")
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" || (!f.IsExported() && !f.Anonymous) {
			continue
		}
		ft := f.Type
		if f.Anonymous && name == "" && !strings.Contains(opts, "noinline") {
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct && !encodesItself(ft) {
				out = append(out, structFields(ft, walk)...)
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		walk(f.Type)
		out = append(out, Field{Name: name, Type: goType(f.Type)})
	}
	return out
}

// addDescribe has s answer DescribeMethod on the topic of desc's service.
// It is called by RegisterService with s.mu held.
func (s *Server) addDescribe(desc *ServiceDesc, impl any) {
	s.descs = append(s.descs, desc)
	full := FullMethodName(desc.ServiceName, DescribeMethod)
	m := &MethodDesc{
		Name:    DescribeMethod,
		NewArgs: func() any { return new(describeArgs) },
		Call: func(context.Context, any, any) (any, error) {
			return &describeResults{Description: *s.Description()}, nil
		},
	}
	s.methods[full] = newServerMethod(m, impl, full)
	anyFull := FullMethodName(anyService, DescribeMethod)
	s.methods[anyFull] = newServerMethod(m, impl, anyFull)
}
