package redisdedup_test

// These tests need a Redis server in MQRPC_REDIS ("127.0.0.1:6379";
// tools/redis/redis.sh up starts one, tools/with-broker.sh and make test do
// too); under CI=true they fail rather than skip without it.

import (
	"context"
	"fmt"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/mqrpc/mqrpc/internal/testenv"
	"github.com/mqrpc/mqrpc/runtime"
	"github.com/mqrpc/mqrpc/runtime/redisdedup"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// newClient returns a client of the test Redis, closed when the test ends.
func newClient(t *testing.T) *redis.Client {
	t.Helper()
	addr := os.Getenv("MQRPC_REDIS")
	if addr == "" {
		testenv.Missing(t, "MQRPC_REDIS is not set; run tools/redis/redis.sh up and export MQRPC_REDIS=127.0.0.1:6379 (make test does both)")
	}
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { _ = rdb.Close() })
	if err := rdb.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("redis at %s: %v", addr, err)
	}
	return rdb
}

// prefix is a key prefix no other test or run uses.
func prefix(t *testing.T) string {
	return fmt.Sprintf("mqrpc-test:%s:%d:", t.Name(), time.Now().UnixNano())
}

func claim(t *testing.T, s *redisdedup.Store, id string, exp time.Time, want runtime.ClaimState) {
	t.Helper()
	got, err := s.Claim(context.Background(), id, exp)
	if err != nil || got != want {
		t.Fatalf("Claim(%q) = %v, %v; want %v", id, got, err, want)
	}
}

// Two stores over two connections, as two server processes have, see the
// same call ids: one claims, the other finds it taken, then done.
func TestTwoStoresSeeTheSameCalls(t *testing.T) {
	p := prefix(t)
	a := redisdedup.New(newClient(t), redisdedup.WithPrefix(p))
	b := redisdedup.New(newClient(t), redisdedup.WithPrefix(p))
	exp := time.Now().Add(time.Minute)
	claim(t, a, "call-1", exp, runtime.ClaimNew)
	claim(t, b, "call-1", exp, runtime.ClaimTaken)
	claim(t, a, "call-1", exp, runtime.ClaimTaken)
	if err := a.Finish(context.Background(), "call-1", exp); err != nil {
		t.Fatal(err)
	}
	claim(t, b, "call-1", exp, runtime.ClaimDone)
	claim(t, b, "call-2", exp, runtime.ClaimNew)

	// Another prefix is another store.
	other := redisdedup.New(newClient(t), redisdedup.WithPrefix(p+"other:"))
	claim(t, other, "call-1", exp, runtime.ClaimNew)
}

// A claim lives until the call's deadline and not past it; finishing it
// keeps that expiry.
func TestClaimExpiresAtTheDeadline(t *testing.T) {
	rdb := newClient(t)
	p := prefix(t)
	a := redisdedup.New(rdb, redisdedup.WithPrefix(p))
	b := redisdedup.New(newClient(t), redisdedup.WithPrefix(p))
	const life = 400 * time.Millisecond
	exp := time.Now().Add(life)
	claim(t, a, "short", exp, runtime.ClaimNew)
	ttl, err := rdb.PTTL(context.Background(), a.Key("short")).Result()
	if err != nil || ttl <= 0 || ttl > life {
		t.Fatalf("key expires in %v (%v), want within (0, %v]", ttl, err, life)
	}
	if err := a.Finish(context.Background(), "short", exp); err != nil {
		t.Fatal(err)
	}
	if ttl2, err := rdb.PTTL(context.Background(), a.Key("short")).Result(); err != nil || ttl2 <= 0 || ttl2 > ttl {
		t.Fatalf("after Finish the key expires in %v (%v), want within (0, %v]", ttl2, err, ttl)
	}
	claim(t, b, "short", exp, runtime.ClaimDone)

	// Taken again once the deadline has passed, and not before (Redis
	// expires a key within a millisecond of its time).
	for {
		st, err := b.Claim(context.Background(), "short", time.Now().Add(time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		if st == runtime.ClaimNew {
			if early := exp.Sub(time.Now()); early > 2*time.Millisecond {
				t.Fatalf("claim expired %v before the deadline", early)
			}
			break
		}
		if time.Now().After(exp.Add(5 * time.Second)) {
			t.Fatalf("claim still %v 5s after the deadline", st)
		}
		time.Sleep(5 * time.Millisecond)
	}

	// Finishing a claim whose key has expired does not bring it back.
	gone := time.Now().Add(50 * time.Millisecond)
	claim(t, a, "gone", gone, runtime.ClaimNew)
	if err := rdb.Del(context.Background(), a.Key("gone")).Err(); err != nil {
		t.Fatal(err)
	}
	if err := a.Finish(context.Background(), "gone", gone); err != nil {
		t.Fatal(err)
	}
	if n, err := rdb.Exists(context.Background(), a.Key("gone")).Result(); err != nil || n != 0 {
		t.Fatalf("Finish recreated an expired key (%d, %v)", n, err)
	}
}

// Of many servers claiming one call id at once, one gets it.
func TestOneOfConcurrentClaimsWins(t *testing.T) {
	p := prefix(t)
	stores := []*redisdedup.Store{redisdedup.New(newClient(t), redisdedup.WithPrefix(p)), redisdedup.New(newClient(t), redisdedup.WithPrefix(p))}
	exp := time.Now().Add(time.Minute)
	for round := range 20 {
		id := fmt.Sprint("race-", round)
		var mu sync.Mutex
		got := map[runtime.ClaimState]int{}
		var wg sync.WaitGroup
		for i := range 16 {
			wg.Go(func() {
				st, err := stores[i%2].Claim(context.Background(), id, exp)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				got[st]++
				mu.Unlock()
			})
		}
		wg.Wait()
		if got[runtime.ClaimNew] != 1 || got[runtime.ClaimTaken] != 15 {
			t.Fatalf("round %d: 16 concurrent claims gave %v, want one new, 15 taken", round, got)
		}
	}
}

// A store whose Redis does not answer fails to claim and to finish, with
// an error that says which key and why.
func TestStoreDownFails(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	rdb := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: time.Second})
	defer rdb.Close()
	s := redisdedup.New(rdb)
	exp := time.Now().Add(time.Minute)
	st, err := s.Claim(context.Background(), "x", exp)
	if err == nil {
		t.Fatalf("Claim with Redis down = %v, nil; want an error", st)
	}
	t.Logf("Claim: %v", err)
	if err := s.Finish(context.Background(), "x", exp); err == nil {
		t.Fatal("Finish with Redis down succeeded")
	}
}
