// Package clash declares names the generated code would like to use, and
// methods and parameters named like the generated code's own identifiers.
package clash

import stdctx "context"

//go:generate go run github.com/mqrpc/mqrpc/cmd/mqrpcgen -type Clash -output clash_gen_mqrpc.go

// Clash has parameters and methods whose names the generated code uses
// for its own locals and functions.
type Clash interface {
	// Echo joins its arguments.
	Echo(ctx2 stdctx.Context, c, client, s, err, req, in, out string, _ int, impl, args, opts, runtime, context string) (string, error)
	// Unnamed has parameters without names.
	Unnamed(stdctx.Context, string, int) (string, error)
	// Swap names its context c and another parameter ctx.
	Swap(c stdctx.Context, ctx string) (string, error)
	// Fields has parameters whose exported forms collide.
	Fields(ctx stdctx.Context, a string, A string, p0 string, _ string) (string, error)
	// Close is a method name a client might have had for itself.
	Close(ctx stdctx.Context) error
	// String would be fmt's Stringer, but takes a context.
	String(ctx stdctx.Context) (string, error)
	// Register shares its name with the generated Register function's prefix.
	Register(ctx stdctx.Context, name string) (bool, error)
}

// These package-scope names are the ones the generated code would pick
// first; it must choose others.
var (
	runtime          = "not the mqrpc runtime"
	clashServiceDesc = "taken"
	clashEchoArgs    = 1
	clashEchoResults = 2
	clashCloseArgs   = 3
)

// context is not the context package here.
func context() string { return "also taken" }
