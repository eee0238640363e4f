// Package shapes holds methods near the shape of a protobuf RPC, for
// gofront's tests: only M(ctx, *Req) (*Resp, error) with two protobuf
// messages carries the messages as its bodies.
package shapes

import (
	"context"

	"google.golang.org/protobuf/types/known/wrapperspb"
)

// Shapes is accepted: one method carries messages, the rest positional
// arrays.
type Shapes interface {
	// Message is shaped like a protobuf RPC.
	Message(ctx context.Context, req *wrapperspb.StringValue) (*wrapperspb.Int64Value, error)
	// TwoMessages takes two messages, which a protobuf RPC cannot.
	TwoMessages(ctx context.Context, a, b *wrapperspb.StringValue) (*wrapperspb.Int64Value, error)
	// NotAMessageResult returns a plain Go value.
	NotAMessageResult(ctx context.Context, req *wrapperspb.StringValue) (int64, error)
	// NotAMessageParam takes a plain Go value.
	NotAMessageParam(ctx context.Context, s string) (*wrapperspb.Int64Value, error)
	// Values takes and returns message structs, not pointers to them.
	Values(ctx context.Context, req wrapperspb.StringValue) (wrapperspb.Int64Value, error)
	// TwoResults returns two messages.
	TwoResults(ctx context.Context, req *wrapperspb.StringValue) (*wrapperspb.Int64Value, *wrapperspb.Int64Value, error)
	// Aliased names the message pointer through an alias.
	Aliased(ctx context.Context, req StringPointer) (*wrapperspb.Int64Value, error)
	// Lookalike takes a type whose ProtoReflect returns no
	// protoreflect.Message.
	Lookalike(ctx context.Context, req *Lookalike) (*wrapperspb.Int64Value, error)
	// Notify is one-way, so it returns only error and cannot be shaped
	// like a protobuf RPC.
	//
	// mqrpc:oneway
	Notify(ctx context.Context, req *wrapperspb.StringValue) error
}

// StringPointer is an alias of a message pointer.
type StringPointer = *wrapperspb.StringValue

// Lookalike has a ProtoReflect method that protoc-gen-go would not write.
type Lookalike struct{ Name string }

// ProtoReflect returns the name.
func (*Lookalike) ProtoReflect() string { return "" }

// OneWayMessage is refused: a one-way method gets no reply to fill a
// response message with.
type OneWayMessage interface {
	// Notify is marked one-way but returns a message.
	//
	// mqrpc:oneway
	Notify(ctx context.Context, req *wrapperspb.StringValue) (*wrapperspb.Int64Value, error)
}
