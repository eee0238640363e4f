package runtime

import (
	"context"
	"sync"
	"time"
)

// handlerContext is the context a handler runs in: the server's context
// bounded by the request's deadline, carrying the incoming metadata, the
// trailer and the call record. It holds what context.WithDeadline and
// three context.WithValue calls would build, and the handler's reply
// message too, in one allocation instead of nine, and it does not register
// with the server's context. The channel that Done returns, the timer that
// closes it at the deadline and the watch on the server's context are made
// only when Done is first called, which most handlers never do; Err needs
// none of them, as it reads the clock and the server's context.
type handlerContext struct {
	parent   context.Context // the server's: cancelled by Stop
	deadline time.Time
	md       Metadata
	trailer  Metadata
	rec      callRecord
	reply    Message // the reply, once the handler has returned

	mu         sync.Mutex
	err        error         // set once the context has ended
	done       chan struct{} // made by the first Done
	timer      *time.Timer   // closes done at the deadline
	stopParent func() bool   // stops the watch on parent
}

var _ context.Context = (*handlerContext)(nil)

func (c *handlerContext) Deadline() (time.Time, bool) { return c.deadline, true }

func (c *handlerContext) Value(key any) any {
	switch key.(type) {
	case incomingKey:
		return c.md
	case trailerKey:
		return &c.trailer
	case callKey:
		return &c.rec
	}
	return c.parent.Value(key)
}

func (c *handlerContext) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.errLocked()
}

// errLocked returns the context's error, noting it once it has ended.
func (c *handlerContext) errLocked() error {
	if c.err == nil {
		if err := c.parent.Err(); err != nil {
			c.err = err
		} else if !time.Now().Before(c.deadline) {
			c.err = context.DeadlineExceeded
		}
	}
	return c.err
}

func (c *handlerContext) Done() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done != nil {
		return c.done
	}
	c.done = make(chan struct{})
	if c.errLocked() != nil {
		close(c.done)
		return c.done
	}
	c.timer = time.AfterFunc(time.Until(c.deadline), func() { c.end(context.DeadlineExceeded) })
	c.stopParent = context.AfterFunc(c.parent, func() { c.end(c.parent.Err()) })
	return c.done
}

// end ends the context with err unless it has ended already.
func (c *handlerContext) end(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.errLocked() == nil {
		c.err = err
	}
	if c.done != nil {
		select {
		case <-c.done:
		default:
			close(c.done)
		}
	}
}

// release ends the context once its handler has returned, as the cancel
// function of context.WithDeadline does (a deadline already passed still
// shows as DeadlineExceeded), and stops its timer and watch.
func (c *handlerContext) release() {
	c.end(context.Canceled)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.timer != nil {
		c.timer.Stop()
	}
	if c.stopParent != nil {
		c.stopParent()
	}
}

func (c *handlerContext) String() string { return "mqrpc.handlerContext" }
