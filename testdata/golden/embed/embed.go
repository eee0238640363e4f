// Package embed has services built from embedded interfaces, one of them
// from another package.
package embed

import (
	"context"

	"github.com/mqrpc/mqrpc/testdata/golden/shared"
)

//go:generate go run github.com/mqrpc/mqrpc/cmd/mqrpcgen -type Store,Admin

// Reader reads values by key.
type Reader interface {
	// Get returns the value stored under key and whether there is one.
	Get(ctx context.Context, key string) ([]byte, bool, error)
}

// Store is a key-value store that also answers pings.
type Store interface {
	shared.Base
	Reader
	// Put stores value under key.
	Put(ctx context.Context, key string, value []byte) error
}

// Admin is a Store that can also be wiped.
type Admin interface {
	Store
	// Reset deletes every key and returns how many there were.
	Reset(ctx context.Context) (int, error)
}
