// Package eventlog is a one-way service for the interop tests: a Java
// producer's plain send reaches its Record method.
package eventlog

import "context"

//go:generate go run github.com/mqrpc/mqrpc/cmd/mqrpcgen -type EventLog

// EventLog records events sent by anyone who can put a message on its topic.
type EventLog interface {
	// Record stores one event; the caller gets no reply.
	//
	// mqrpc:oneway
	Record(ctx context.Context, name string, value int) error
}
