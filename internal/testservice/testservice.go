// Package testservice is the service the library's own tests call over a
// real broker: small methods shaped to exercise the decoder, the server's
// limits and its delivery guarantees, apart from the examples, which may
// change for the sake of readers.
package testservice

import (
	"context"
	"fmt"
	"io"
	"os"
)

//go:generate go run github.com/mqrpc/mqrpc/cmd/mqrpcgen -type Probe

// Probe answers test calls.
type Probe interface {
	// Echo returns s.
	Echo(ctx context.Context, s string) (string, error)
	// Narrow returns v, a parameter narrower than most integers sent to it.
	Narrow(ctx context.Context, v int8) (int8, error)
	// Tree returns the number of nodes under and including root.
	Tree(ctx context.Context, root Node) (int, error)
	// Items returns how many items it was given.
	Items(ctx context.Context, items []Item) (int, error)
	// Blob returns the length of b.
	Blob(ctx context.Context, b []byte) (int, error)
	// Note takes s and returns without a reply.
	//
	//mqrpc:oneway
	Note(ctx context.Context, s string) error
	// Step records that call seq of client ran, for the ordered-call
	// tests: they send it with key as the order key.
	Step(ctx context.Context, key string, client int, seq int) error
}

// Node is a tree: a type whose values can nest without end.
type Node struct {
	Kids []Node
}

// Item is a struct far larger in memory than the one byte a nil takes on
// the wire.
type Item struct {
	Name  string
	Tags  []string
	Attrs map[string]string
	Score float64
	Data  [32]int64
}

// Server is a Probe.
type Server struct {
	// StepLog, when not nil, gets a line "key client seq pid" for each
	// Step call, written at once: a log that outlives a killed process.
	StepLog io.Writer
}

var _ Probe = Server{}

func (Server) Echo(_ context.Context, s string) (string, error) { return s, nil }

func (Server) Narrow(_ context.Context, v int8) (int8, error) { return v, nil }

func (Server) Tree(_ context.Context, root Node) (int, error) {
	n, stack := 0, []Node{root}
	for len(stack) > 0 {
		top := stack[len(stack)-1]
		stack = append(stack[:len(stack)-1], top.Kids...)
		n++
	}
	return n, nil
}

func (Server) Items(_ context.Context, items []Item) (int, error) { return len(items), nil }

func (Server) Blob(_ context.Context, b []byte) (int, error) { return len(b), nil }

func (Server) Note(context.Context, string) error { return nil }

func (s Server) Step(_ context.Context, key string, client, seq int) error {
	if s.StepLog == nil {
		return nil
	}
	_, err := fmt.Fprintf(s.StepLog, "%s %d %d %d\n", key, client, seq, os.Getpid())
	return err
}
