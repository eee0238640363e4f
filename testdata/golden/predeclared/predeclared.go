// Package predeclared declares its own new and any, hiding the
// predeclared ones from every file of the package, the generated one too.
// The generated code must do without them.
package predeclared

import "context"

//go:generate go run github.com/mqrpc/mqrpc/cmd/mqrpcgen -type Counter

// any is not the empty interface here.
type any = int

// new is not the built-in new here.
func new(n any) any { return n + 1 }

// Counter counts.
type Counter interface {
	// Next returns the number after n.
	Next(ctx context.Context, n any) (any, error)
	// First returns the first number counted. It takes no arguments, so
	// its server side has none to read.
	First(ctx context.Context) (any, error)
}
