// Package calculator is the Go-interface example of mqrpc: the Calculator
// interface below is the whole service definition. mqrpcgen turns it into
// a client (NewCalculatorClient) and a server registration
// (RegisterCalculator) in calculator_mqrpc.go.
package calculator

import "context"

//go:generate go run github.com/mqrpc/mqrpc/cmd/mqrpcgen -type Calculator

// Calculator does arithmetic on integers.
type Calculator interface {
	// Add returns a + b.
	//
	//mqrpc:idempotent
	Add(ctx context.Context, a, b int) (int, error)
	// Sub returns a - b.
	//
	//mqrpc:idempotent
	Sub(ctx context.Context, a, b int) (int, error)
	// Mul returns a * b.
	//
	//mqrpc:idempotent
	Mul(ctx context.Context, a, b int) (int, error)
	// Div returns a / b and a % b. Dividing by zero fails with
	// InvalidArgument.
	//
	//mqrpc:idempotent
	Div(ctx context.Context, a, b int) (quotient, remainder int, err error)
	// Stats summarises a series of numbers.
	//
	//mqrpc:idempotent
	Stats(ctx context.Context, s Series) (Summary, error)
}

// Series is a named list of numbers.
type Series struct {
	Name   string
	Values []float64
}

// Summary describes a Series.
type Summary struct {
	Name     string
	Count    int
	Sum      float64
	Min, Max float64
	Mean     float64
}
