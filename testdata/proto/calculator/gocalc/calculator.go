// Package calculator is the Calculator of calculator.proto declared as a
// Go interface over that file's messages, for mqrpcgen instead of protoc.
// Its methods are shaped like protobuf RPCs, so mqrpcgen sends the
// messages themselves as the bodies, as protoc-gen-mqrpc does: this
// package and calculatorpb are one service on the wire, and each calls
// the other.
//
// The package is named calculator, as the .proto package is, because the
// Go package name is what gives a Go interface its service name
// (calculator.Calculator).
package calculator

import (
	"context"

	calculatorpb "github.com/mqrpc/mqrpc/testdata/proto/calculator"
)

//go:generate go run github.com/mqrpc/mqrpc/cmd/mqrpcgen -type Calculator

// Calculator does arithmetic on integers.
type Calculator interface {
	// Add returns a + b.
	//
	//mqrpc:idempotent
	Add(ctx context.Context, req *calculatorpb.Operands) (*calculatorpb.Result, error)
	// Sub returns a - b.
	//
	//mqrpc:idempotent
	Sub(ctx context.Context, req *calculatorpb.Operands) (*calculatorpb.Result, error)
	// Mul returns a * b.
	//
	//mqrpc:idempotent
	Mul(ctx context.Context, req *calculatorpb.Operands) (*calculatorpb.Result, error)
	// Div returns a / b and a % b. Dividing by zero fails with
	// InvalidArgument.
	//
	//mqrpc:idempotent
	Div(ctx context.Context, req *calculatorpb.Operands) (*calculatorpb.Quotient, error)
	// Stats summarises a series of numbers.
	//
	//mqrpc:idempotent
	Stats(ctx context.Context, req *calculatorpb.Series) (*calculatorpb.Summary, error)
}
