// Package model describes RPC services independently of where they were
// declared. Front ends (a Go interface, a .proto file) fill it in; the
// emitter in internal/gen turns it into Go source. It deliberately knows
// nothing of go/types or protogen, so that both front ends produce the same
// model for the same service and the emitter has one input to handle.
package model

import (
	"errors"
	"fmt"
)

// File is everything the emitter needs to write one generated Go file.
type File struct {
	// Package is the Go package name the file declares, "calculator".
	Package string
	// ImportPath is the package's import path; types from it are written
	// unqualified.
	ImportPath string
	// Generator is what the header says made the file:
	// "mqrpcgen v0.1.0 (mqrpcgen -type Calculator)".
	Generator string
	// Source is the .proto file the services come from, for the header's
	// "source:" line; empty for Go interfaces.
	Source string
	// Services in the order they are written.
	Services []*Service
	// Taken lists identifiers already declared at package scope (outside
	// the files being generated), so that generated names avoid them.
	Taken []Ident
}

// Ident is a declared identifier and where it is declared.
type Ident struct {
	Name string
	Pos  Pos
}

// Service is one RPC service.
type Service struct {
	// Name is the Go name of the service, and of the interface that
	// clients implement and servers register: "Calculator".
	Name string
	// FullName is the name on the wire, "calculator.Calculator".
	FullName string
	// Doc is the service's doc comment as text, without comment markers.
	Doc     string
	Pos     Pos
	Methods []*Method
	// DeclareInterface makes the emitter declare the service interface
	// itself, with Doc and the methods' docs. The protobuf front end sets
	// it; a Go interface is the user's own declaration.
	DeclareInterface bool
}

// Method is one method of a service. Every method takes a
// context.Context first and returns an error last; Params and Results list
// what comes in between.
type Method struct {
	// Name is the Go name of the method.
	Name string
	// WireName is the method's name in its full method name on the wire,
	// when that differs from Name (a .proto method get_sum is GetSum in
	// Go); empty means Name.
	WireName string
	// Doc is the method's doc comment as text, without comment markers.
	Doc     string
	Pos     Pos
	Params  []Param
	Results []Param
	// OneWay methods have no results and get no reply.
	OneWay bool
	// Idempotent methods are safe to repeat: calling one again with the
	// same arguments changes nothing the first call did not (a Go
	// method's mqrpc:idempotent doc line, a .proto method's
	// idempotency_level NO_SIDE_EFFECTS or IDEMPOTENT). Tools such as
	// mqrpc replay re-send only these unless told otherwise.
	Idempotent bool
	// Body says how Params and Results travel in message bodies.
	Body Body
}

// Body is the form of a method's request and reply bodies.
type Body int

const (
	// Positional bodies are codec-encoded arrays of the values in
	// Params and Results, carried in generated argument and result structs
	// (the Go front end).
	Positional Body = iota
	// Message bodies are the method's one parameter and one result
	// themselves, each a pointer to a message (the protobuf front end, and
	// Go methods shaped like protobuf RPCs): the request body is the
	// request message and the reply body the response message. OneWay
	// Message methods still have their one result in Results, which the
	// client returns empty.
	Message
)

// WireMethodName returns the name of m in full method names.
func (m *Method) WireMethodName() string {
	if m.WireName != "" {
		return m.WireName
	}
	return m.Name
}

// Param is a parameter or result. Name is empty when the source gave
// none (or gave "_").
type Param struct {
	Name string
	Type *Type
}

// Pos is a place in a source file, for messages that point at it.
type Pos struct {
	Filename string
	Line     int
	Column   int
}

func (p Pos) String() string {
	if p.Filename == "" {
		return "-"
	}
	return fmt.Sprintf("%s:%d", p.Filename, p.Line)
}

// Kind says which form of Type expression a Type is.
type Kind int

const (
	// Basic is a predeclared type such as int, string or byte; Name holds it.
	Basic Kind = iota
	// Named is a declared type, Name in the package at ImportPath, with
	// TypeArgs when it is an instantiated generic type.
	Named
	// Pointer is *Elem.
	Pointer
	// Slice is []Elem.
	Slice
	// Array is [Len]Elem.
	Array
	// Map is map[Key]Elem.
	Map
	// Struct is an anonymous struct with Fields.
	Struct
)

// Type is a Go type expression in which every declared type carries its
// import path, so the emitter can write it from any package and import
// what it needs: *pb.AddRequest is Pointer{Named{ImportPath: ".../pb",
// Name: "AddRequest"}}.
type Type struct {
	Kind Kind
	// Name is the type name for Basic and Named.
	Name string
	// ImportPath and PkgName locate a Named type; both are empty for
	// predeclared types.
	ImportPath string
	PkgName    string
	TypeArgs   []*Type
	Len        int64
	Key        *Type
	Elem       *Type
	Fields     []Field
}

// Field is a field of an anonymous struct type.
type Field struct {
	// Name is empty for an embedded field.
	Name string
	Type *Type
	Tag  string
}

// Error is a problem with the input that stops generation, at the place in
// the source a person has to change.
type Error struct {
	Pos Pos
	// Subject names what is wrong: "method Add", "-type Calculator".
	Subject string
	Msg     string
}

func (e *Error) Error() string {
	if e.Pos.Filename == "" {
		return e.Subject + ": " + e.Msg
	}
	return e.Pos.String() + ": " + e.Subject + ": " + e.Msg
}

// Errors is every problem found, so one run reports them all.
type Errors []*Error

func (es Errors) Error() string {
	s := ""
	for i, e := range es {
		if i > 0 {
			s += "\n"
		}
		s += e.Error()
	}
	return s
}

// Problems lists the problems of err for a person, one line each: where
// at puts it ("calc.go:9"; "" for none), the subject and the message. It
// reports false when err is not one of this package's errors.
func Problems(err error, at func(Pos) string) ([]string, bool) {
	var list Errors
	var one *Error
	switch {
	case errors.As(err, &list):
	case errors.As(err, &one):
		list = Errors{one}
	default:
		return nil, false
	}
	lines := make([]string, len(list))
	for i, e := range list {
		lines[i] = e.Subject + ": " + e.Msg
		if where := at(e.Pos); where != "" {
			lines[i] = where + ": " + lines[i]
		}
	}
	return lines, true
}

// Doc comment lines that direct the generators, in Go interfaces (written
// "//mqrpc:oneway", so that go/ast leaves them out of the doc text) and in
// .proto comments.
const (
	// OneWayDirective makes a method that returns only an error (or
	// google.protobuf.Empty) fire-and-forget.
	OneWayDirective = "mqrpc:oneway"
	// IdempotentDirective marks a Go method safe to repeat (replay); a
	// .proto method says so with its idempotency_level option.
	IdempotentDirective = "mqrpc:idempotent"
)
