// Package shared declares types and an interface that other golden
// packages use from outside their own package, so the generator has to
// import them.
package shared

import "context"

// Point is a struct from another package.
type Point struct {
	X, Y int
}

// Tag is a named string from another package.
type Tag string

// Pair is a generic struct from another package.
type Pair[K comparable, V any] struct {
	Key   K
	Value V
}

// Base is an interface that services in other packages embed.
type Base interface {
	// Ping answers msg with "pong: " + msg.
	Ping(ctx context.Context, msg string) (string, error)
	// Log records line and returns without waiting for it.
	//
	//mqrpc:oneway
	Log(ctx context.Context, line string) error
}
