package runtime

import (
	"sync"
	"time"
)

// dedup remembers the call ids a server has taken, each until its deadline,
// and whether each has finished, so that a request the queue delivers twice
// runs once. It holds at most size ids and size queue entries; when full,
// the oldest is forgotten first.
type dedup struct {
	mu    sync.Mutex
	size  int
	seen  map[string]dedupMark // by call id
	queue []dedupEntry         // insertion order; queue[head:] is live
	head  int
}

// dedupMark is what dedup remembers of a call id.
type dedupMark struct {
	deadline int64 // unix ns
	done     bool
}

type dedupEntry struct {
	id       string
	deadline int64 // unix ns
}

func newDedup(size int) *dedup {
	return &dedup{size: max(size, 1), seen: make(map[string]dedupMark)}
}

// first reports whether id is new (or its earlier deadline has passed), and
// remembers it until deadline.
func (d *dedup) first(id string, deadline, now time.Time) bool {
	return d.claim(id, deadline, now) == ClaimNew
}

// claim takes id until deadline when it is new (or its earlier deadline has
// passed) and returns ClaimNew; else it tells whether the earlier taker has
// finished it.
func (d *dedup) claim(id string, deadline, now time.Time) ClaimState {
	dl, ns := deadline.UnixNano(), now.UnixNano()
	d.mu.Lock()
	defer d.mu.Unlock()
	if old, ok := d.seen[id]; ok && ns < old.deadline {
		if old.done {
			return ClaimDone
		}
		return ClaimTaken
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
		if old, ok := d.seen[e.id]; ok && old.deadline == e.deadline {
			delete(d.seen, e.id)
		}
		d.queue[d.head] = dedupEntry{}
		d.head++
	}
	if d.head > 64 && d.head > len(d.queue)/2 {
		d.queue = append(d.queue[:0], d.queue[d.head:]...)
		d.head = 0
	}
	d.seen[id] = dedupMark{deadline: dl}
	d.queue = append(d.queue, dedupEntry{id, dl})
	return ClaimNew
}

// finish marks id, taken until deadline, as finished. An id that is no
// longer remembered (forgotten when full, or taken again under a later
// deadline) is left alone.
func (d *dedup) finish(id string, deadline time.Time) {
	dl := deadline.UnixNano()
	d.mu.Lock()
	defer d.mu.Unlock()
	if old, ok := d.seen[id]; ok && old.deadline == dl {
		d.seen[id] = dedupMark{deadline: dl, done: true}
	}
}

// len returns how many ids are remembered.
func (d *dedup) len() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.seen)
}
