package runtime

import (
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"
)

var t0 = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// at returns t0 plus n seconds.
func at(n int) time.Time { return t0.Add(time.Duration(n) * time.Second) }

// dedupStep is one call of dedup.first and the answer it must give.
type dedupStep struct {
	id       string
	deadline int // seconds after t0
	now      int // seconds after t0
	want     bool
}

func TestDedupFirst(t *testing.T) {
	tests := []struct {
		name  string
		size  int
		steps []dedupStep
	}{
		{
			name:  "first time is new",
			size:  10,
			steps: []dedupStep{{"a", 10, 0, true}},
		},
		{
			name: "duplicate is refused while its deadline lives",
			size: 10,
			steps: []dedupStep{
				{"a", 10, 0, true},
				{"a", 10, 0, false},
				{"a", 10, 9, false},
				{"a", 20, 9, false}, // a later deadline on the duplicate does not matter
			},
		},
		{
			name: "id is new again once its deadline has passed",
			size: 10,
			steps: []dedupStep{
				{"a", 10, 0, true},
				{"a", 20, 10, true}, // the deadline itself counts as passed
				{"a", 20, 15, false},
				{"a", 30, 20, true},
			},
		},
		{
			name: "different ids do not collide",
			size: 10,
			steps: []dedupStep{
				{"a", 10, 0, true},
				{"b", 10, 0, true},
				{"a", 10, 1, false},
				{"b", 10, 1, false},
			},
		},
		{
			name: "oldest id is forgotten when full",
			size: 3,
			steps: []dedupStep{
				{"a", 100, 0, true},
				{"b", 100, 1, true},
				{"c", 100, 2, true},
				{"d", 100, 3, true}, // pushes a out
				{"d", 100, 4, false},
				{"c", 100, 4, false},
				{"a", 100, 5, true}, // forgotten, so new; pushes b out
				{"b", 100, 6, true},
			},
		},
		{
			name: "size below one still remembers the last id",
			size: 0,
			steps: []dedupStep{
				{"a", 100, 0, true},
				{"a", 100, 1, false},
				{"b", 100, 2, true},
				{"a", 100, 3, true},
			},
		},
		{
			name: "out-of-order deadlines: a short one behind a long one expires on time",
			size: 10,
			steps: []dedupStep{
				{"long", 1000, 0, true},
				{"short", 5, 1, true},
				{"short", 5, 4, false},
				{"short", 50, 5, true}, // expired although "long" is still ahead of it
				{"long", 1000, 6, false},
				{"short", 50, 7, false}, // remembered with its new deadline
			},
		},
		{
			name: "out-of-order deadlines: a stale entry does not forget the id's newer deadline",
			size: 3,
			steps: []dedupStep{
				{"long", 1000, 0, true},
				{"x", 1, 0, true},
				{"x", 100, 2, true}, // x's first entry is now stale
				{"y", 100, 3, true},
				{"z", 100, 4, true}, // full: the oldest goes, and the stale x entry with it
				{"x", 100, 5, false},
				{"y", 100, 5, false},
			},
		},
		{
			name: "out-of-order deadlines: a long deadline behind short ones is kept",
			size: 10,
			steps: []dedupStep{
				{"s1", 2, 0, true},
				{"s2", 3, 0, true},
				{"long", 1000, 0, true},
				{"s3", 20, 10, true}, // s1 and s2 expire here
				{"long", 1000, 10, false},
				{"s1", 20, 10, true},
				{"s2", 20, 10, true},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newDedup(tt.size)
			for i, s := range tt.steps {
				if got := d.first(s.id, at(s.deadline), at(s.now)); got != s.want {
					t.Fatalf("step %d: first(%q, deadline %d, now %d) = %v, want %v", i, s.id, s.deadline, s.now, got, s.want)
				}
				checkDedupBounds(t, d, max(tt.size, 1))
			}
		})
	}
}

// checkDedupBounds fails when d holds more than size ids or queue entries.
func checkDedupBounds(t *testing.T, d *dedup, size int) {
	t.Helper()
	d.mu.Lock()
	defer d.mu.Unlock()
	if n := len(d.seen); n > size {
		t.Fatalf("dedup remembers %d ids, over its size %d", n, size)
	}
	if n := len(d.queue) - d.head; n > size {
		t.Fatalf("dedup queues %d entries, over its size %d", n, size)
	}
	// Up to 64 forgotten entries stay at the front of the queue before it
	// is compacted, and append may double the array, rounded up to the
	// allocator's size class.
	if c := cap(d.queue); c > 2*(size+64)+64 {
		t.Fatalf("dedup queue has capacity %d for size %d", c, size)
	}
}

func TestDedupMemoryStaysBounded(t *testing.T) {
	const size = 16
	tests := []struct {
		name string
		next func(i int) (id string, deadline, now int)
	}{
		{
			name: "distinct live ids",
			next: func(i int) (string, int, int) { return strconv.Itoa(i), 1 << 30, i },
		},
		{
			name: "distinct ids that expire at once",
			next: func(i int) (string, int, int) { return strconv.Itoa(i), i + 1, i },
		},
		{
			name: "deadlines in reverse order",
			next: func(i int) (string, int, int) { return strconv.Itoa(i), 1<<30 - i, 0 },
		},
		{
			// One long-lived id stays at the front of the queue while
			// another id is reused after each of its deadlines: each reuse
			// leaves a stale queue entry behind the live one.
			name: "reused id behind a long-lived one",
			next: func(i int) (string, int, int) {
				if i == 0 {
					return "long", 1 << 30, 0
				}
				return "reused", 2*i + 1, 2 * i
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newDedup(size)
			for i := range 10_000 {
				id, deadline, now := tt.next(i)
				if !d.first(id, at(deadline), at(now)) {
					t.Fatalf("step %d: first(%q) = false for an id that is new or expired", i, id)
				}
				checkDedupBounds(t, d, size)
			}
			if n := d.len(); n > size {
				t.Fatalf("len() = %d, over size %d", n, size)
			}
		})
	}
}

// Many goroutines offering the same ids: each id is taken exactly once.
func TestDedupConcurrent(t *testing.T) {
	d := newDedup(1000)
	const ids, workers = 200, 8
	var mu sync.Mutex
	taken := make(map[string]int)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := range ids {
				id := fmt.Sprint("id-", i)
				if d.first(id, at(100), at(0)) {
					mu.Lock()
					taken[id]++
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	if len(taken) != ids {
		t.Fatalf("%d ids taken, want %d", len(taken), ids)
	}
	for id, n := range taken {
		if n != 1 {
			t.Errorf("%s taken %d times", id, n)
		}
	}
}

// BenchmarkDedupFirst is a server's steady state: every id new, each kept
// for 30 s, the memory full.
func BenchmarkDedupFirst(b *testing.B) {
	d := newDedup(DefaultDedupSize)
	ids := make([]string, 1<<20)
	for i := range ids {
		ids[i] = "0123456789ab-" + strconv.FormatUint(uint64(i), 36)
	}
	now := t0
	for i := range DefaultDedupSize {
		d.first(ids[i], now.Add(30*time.Second), now)
	}
	b.ReportAllocs()
	i := DefaultDedupSize
	for b.Loop() {
		now = now.Add(time.Microsecond)
		if !d.first(ids[i%len(ids)], now.Add(30*time.Second), now) {
			b.Fatal("a new id was refused")
		}
		i++
	}
}
