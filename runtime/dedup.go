package runtime

import (
	"sync"
	"time"
)

// dedup remembers the call ids a server has taken, each until its deadline,
// so that a request the queue delivers twice runs once. It holds at most
// size ids and size queue entries; when full, the oldest is forgotten first.
type dedup struct {
	mu    sync.Mutex
	size  int
	seen  map[string]int64 // call id -> deadline, unix ns
	queue []dedupEntry     // insertion order; queue[head:] is live
	head  int
}

type dedupEntry struct {
	id       string
	deadline int64 // unix ns
}

func newDedup(size int) *dedup {
	return &dedup{size: max(size, 1), seen: make(map[string]int64)}
}

// first reports whether id is new (or its earlier deadline has passed), and
// remembers it until deadline.
func (d *dedup) first(id string, deadline, now time.Time) bool {
	dl, ns := deadline.UnixNano(), now.UnixNano()
	d.mu.Lock()
	defer d.mu.Unlock()
	if old, ok := d.seen[id]; ok && ns < old {
		return false
	}
	// Forget expired entries from the front, and the oldest ones while
	// full. Deadlines are not strictly ordered, so an expired entry behind
	// a live one waits its turn: that delays forgetting, never loses an id.
	// Fullness counts queue entries, not ids: an id taken again after its
	// deadline leaves a stale entry behind, and counting only ids would let
	// those pile up without bound behind one long-lived entry. Every id
	// has an entry, so this bounds both.
	for d.head < len(d.queue) {
		e := d.queue[d.head]
		if ns < e.deadline && len(d.queue)-d.head < d.size {
			break
		}
		if old, ok := d.seen[e.id]; ok && old == e.deadline {
			delete(d.seen, e.id)
		}
		d.queue[d.head] = dedupEntry{}
		d.head++
	}
	if d.head > 64 && d.head > len(d.queue)/2 {
		d.queue = append(d.queue[:0], d.queue[d.head:]...)
		d.head = 0
	}
	d.seen[id] = dl
	d.queue = append(d.queue, dedupEntry{id, dl})
	return true
}

// len returns how many ids are remembered.
func (d *dedup) len() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.seen)
}
