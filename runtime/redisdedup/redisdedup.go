// Package redisdedup is a runtime.DedupStore over Redis, for the servers of
// a group to share: a request the queue delivers again after a server died,
// or to another server after a rebalance, runs its handler at most once
// while its deadline lives.
//
//	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
//	srv := runtime.NewServer(transport, runtime.WithDedupStore(redisdedup.New(rdb)))
//
// Each call id is one key, <prefix><call id>, whose value is "taken" from
// the claim until the handler returns and "done" after, and which expires
// at the call's deadline (SET NX PX). Expiry follows the clock of the server
// that claims; servers whose clocks disagree by more than the time a
// request waits in the queue weaken the guarantee near the deadline.
package redisdedup

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mqrpc/mqrpc/runtime"
)

// DefaultPrefix starts the key of every call id, so that the store can
// share a Redis database with other data.
const DefaultPrefix = "mqrpc:call:"

// The values of a call id's key.
const (
	valueTaken = "taken"
	valueDone  = "done"
)

// Store is a runtime.DedupStore over a Redis client. It is safe for
// concurrent use.
type Store struct {
	rdb    redis.UniversalClient
	prefix string
}

var _ runtime.DedupStore = (*Store)(nil)

// Option configures a Store.
type Option func(*Store)

// WithPrefix starts every key with prefix instead of DefaultPrefix: stores
// with different prefixes do not see each other's calls.
func WithPrefix(prefix string) Option {
	return func(s *Store) { s.prefix = prefix }
}

// New returns a store that keeps call ids in rdb: a client for one server,
// Sentinel or Cluster, configured (address, credentials, TLS, timeouts) by
// the caller, who also closes it. Every server of a group must use the same
// Redis and prefix.
func New(rdb redis.UniversalClient, opts ...Option) *Store {
	s := &Store{rdb: rdb, prefix: DefaultPrefix}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Key returns the Redis key that holds call id.
func (s *Store) Key(id string) string { return s.prefix + id }

// Claim sets the id's key to "taken" until expires unless it exists, and
// otherwise reads what it holds.
func (s *Store) Claim(ctx context.Context, id string, expires time.Time) (runtime.ClaimState, error) {
	key := s.Key(id)
	// A key can expire between a refused SET and the GET; the next SET
	// then takes it. Twice in a row would need a deadline to pass twice.
	for range 3 {
		set, err := s.rdb.SetNX(ctx, key, valueTaken, ttl(expires)).Result()
		if err != nil {
			return 0, fmt.Errorf("redisdedup: claim %s: %w", key, err)
		}
		if set {
			return runtime.ClaimNew, nil
		}
		v, err := s.rdb.Get(ctx, key).Result()
		switch {
		case errors.Is(err, redis.Nil):
			continue
		case err != nil:
			return 0, fmt.Errorf("redisdedup: claim %s: %w", key, err)
		case v == valueDone:
			return runtime.ClaimDone, nil
		default:
			return runtime.ClaimTaken, nil
		}
	}
	return 0, fmt.Errorf("redisdedup: claim %s: the key keeps expiring between SET and GET", key)
}

// Finish sets the id's key to "done", with the same expiry, when it still
// exists; a key that has expired is left so: its call is past its deadline.
func (s *Store) Finish(ctx context.Context, id string, expires time.Time) error {
	if !time.Now().Before(expires) {
		return nil
	}
	key := s.Key(id)
	if err := s.rdb.SetXX(ctx, key, valueDone, ttl(expires)).Err(); err != nil {
		return fmt.Errorf("redisdedup: finish %s: %w", key, err)
	}
	return nil
}

// ttl is the time from now to expires, at least the millisecond that
// Redis's PX needs: a claim for a deadline that has just passed is kept
// for that long, not refused.
func ttl(expires time.Time) time.Duration {
	return max(time.Until(expires), time.Millisecond)
}
