package runtime

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// DedupStore records which calls servers have taken and finished, so that
// a request the queue delivers more than once runs its handler once. The
// queue delivers at least once: a server that dies before it acknowledges
// a request (killed, out of memory, a fatal error) has it delivered again,
// to itself once restarted or to another server of the group. A store that
// the servers of a group share, and that outlives them, sees those
// redeliveries; the memory of one process cannot.
//
// A server claims a call id before it decodes the request's arguments and
// runs the handler, and finishes it once the handler has returned, before
// it sends the reply: a claimed call that is never finished is one whose
// decoding or handler did not return, perhaps because the request killed
// its server. Each record lives until the call's deadline:
// after it no server runs the call anyway.
//
// Implementations must be safe for concurrent use. runtime/redisdedup is one
// over Redis.
type DedupStore interface {
	// Claim records that the caller takes call id until expires. It
	// returns ClaimNew when no record of id lives (the caller runs the
	// call), ClaimDone when id was finished, and ClaimTaken when id was
	// claimed and never finished: another server runs it, or the server
	// that took it died running it. Only one of concurrent claims of an id
	// gets ClaimNew.
	Claim(ctx context.Context, id string, expires time.Time) (ClaimState, error)

	// Finish records that the handler of call id, claimed until expires,
	// has returned (or that the server refused the request), so that the
	// call is not run again.
	Finish(ctx context.Context, id string, expires time.Time) error
}

// ClaimState is what DedupStore.Claim found.
type ClaimState int

const (
	// ClaimNew: the id was not taken; the caller now holds it.
	ClaimNew ClaimState = iota
	// ClaimTaken: the id is held by a call that has not finished.
	ClaimTaken
	// ClaimDone: the id's call has finished.
	ClaimDone
)

func (c ClaimState) String() string {
	switch c {
	case ClaimNew:
		return "new"
	case ClaimTaken:
		return "taken"
	case ClaimDone:
		return "done"
	}
	return fmt.Sprintf("ClaimState(%d)", int(c))
}

// ErrDeadLetter is returned by a server's transport handler for a request it
// will not run and that must not be delivered to it again: its call id is
// claimed in the server's DedupStore and was never finished, so the server
// that took it died running it (the request may be what killed it) or
// another server runs it still. The transport moves the message to its
// dead-letter queue (RocketMQ: %DLQ%<group>), where operators can find it,
// and sends no reply: a server that still runs the call answers it, and
// otherwise the caller fails with DeadlineExceeded.
var ErrDeadLetter = errors.New("mqrpc: request dead-lettered")

// NewMemoryDedupStore returns a DedupStore that keeps up to size call ids in
// the memory of this process, forgetting the oldest first when full. It is
// what a server without WithDedupStore uses: it sees the redeliveries to
// this process and nothing across a restart or between processes. Servers
// in one process may share one.
func NewMemoryDedupStore(size int) DedupStore { return memoryDedupStore{newDedup(size)} }

type memoryDedupStore struct{ d *dedup }

func (m memoryDedupStore) Claim(_ context.Context, id string, expires time.Time) (ClaimState, error) {
	return m.d.claim(id, expires, time.Now()), nil
}

func (m memoryDedupStore) Finish(_ context.Context, id string, expires time.Time) error {
	m.d.finish(id, expires)
	return nil
}
