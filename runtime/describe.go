package runtime

import (
	"context"
	"slices"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
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
	// Body is "positional" or "message" (BodyKind.String).
	Body    string  `msgpack:"body" json:"body"`
	Params  []Field `msgpack:"params" json:"params"`
	Results []Field `msgpack:"results" json:"results"`
	// Request and Response are the full protobuf names of the messages of
	// a "message" method, when the server's binary registers its .proto
	// file ("calc.v1.AddRequest").
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
		for i := range sd.Methods {
			svc.Methods = append(svc.Methods, describeMethod(sd, &sd.Methods[i]))
		}
		d.Services = append(d.Services, svc)
	}
	return d
}

func describeMethod(sd *ServiceDesc, m *MethodDesc) MethodDescription {
	md := MethodDescription{
		Name:       m.Name,
		FullMethod: FullMethodName(sd.ServiceName, m.Name),
		OneWay:     m.OneWay,
		Body:       m.Body.String(),
		Params:     nonNil(m.Params),
		Results:    nonNil(m.Results),
	}
	if m.Body == BodyMessage {
		md.Request, md.Response = protoMessageNames(sd.ServiceName, m)
	}
	return md
}

func nonNil(f []Field) []Field {
	if f == nil {
		return []Field{}
	}
	return f
}

// protoMessageNames finds the request and response message names of a
// .proto method in the binary's protobuf registry, where protoc-gen-go's
// code registers every file.
func protoMessageNames(service string, m *MethodDesc) (req, resp string) {
	d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(service))
	if err == nil {
		if sd, ok := d.(protoreflect.ServiceDescriptor); ok {
			if md := sd.Methods().ByName(protoreflect.Name(m.Name)); md != nil {
				return string(md.Input().FullName()), string(md.Output().FullName())
			}
		}
	}
	// Without the registry, the request message still names itself.
	if pm, ok := m.NewArgs().(interface{ ProtoReflect() protoreflect.Message }); ok {
		req = string(pm.ProtoReflect().Descriptor().FullName())
	}
	return req, ""
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
