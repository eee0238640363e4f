// Package echo is the service of mqrpc's benchmarks: it returns what it is
// sent, so that a benchmark can vary the payload size. echo_mqrpc.go is
// generated from the interface by mqrpcgen.
package echo

import (
	"context"
	"time"
)

//go:generate go run github.com/mqrpc/mqrpc/cmd/mqrpcgen -type Echo

// Echo returns its payload.
type Echo interface {
	// Echo returns p. A payload that starts with SlowMark is answered
	// only after SlowDelay (or when the call's context ends), which makes
	// the caller time out when its deadline is shorter.
	Echo(ctx context.Context, p []byte) ([]byte, error)
}

// SlowMark is the first byte of a payload that Server answers late.
const SlowMark = 'D'

// SlowDelay is how late Server answers a payload that starts with SlowMark.
const SlowDelay = 300 * time.Millisecond

// HoldMark is the first byte of a payload that Server answers only when the
// call's context ends.
const HoldMark = 'H'

// Server implements Echo.
type Server struct{}

var _ Echo = Server{}

func (Server) Echo(ctx context.Context, p []byte) ([]byte, error) {
	if len(p) > 0 && p[0] == HoldMark {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	if len(p) > 0 && p[0] == SlowMark {
		t := time.NewTimer(SlowDelay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return p, nil
}
