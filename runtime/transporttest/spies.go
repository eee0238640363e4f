package transporttest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/mqrpc/mqrpc/runtime"
)

// Transport wrappers that let a test see what the runtime has done with its
// transport, so that it waits on that instead of on a guess.

// countingRequests counts the requests its transport has stored, that is,
// the Request calls that returned without an error.
type countingRequests struct {
	runtime.Transport
	stored *atomic.Int64
}

func (c countingRequests) Request(ctx context.Context, m *runtime.Message) error {
	err := c.Transport.Request(ctx, m)
	if err == nil {
		c.stored.Add(1)
	}
	return err
}

// eventLog is what happened, in order, as the goroutines involved saw it.
type eventLog struct {
	mu     sync.Mutex
	events []string
}

func (l *eventLog) add(event string) {
	l.mu.Lock()
	l.events = append(l.events, event)
	l.mu.Unlock()
}

// before reports whether a happened, and happened before the first b (or b
// did not happen).
func (l *eventLog) before(a, b string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	i := slices.Index(l.events, a)
	j := slices.Index(l.events, b)
	return i >= 0 && (j < 0 || i < j)
}

func (l *eventLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return fmt.Sprintf("%q", l.events)
}

// Events a watchedServer logs.
const (
	evStopEntered     = "Subscription.Stop entered"
	evReplySent       = "reply sent"
	evHandlerReturned = "transport handler returned"
)

// watchedServer logs what a server does with its transport: a
// subscription's Stop being entered (and signals it on stopping), a reply
// stored, a delivered message's handler returning.
type watchedServer struct {
	runtime.Transport
	log      *eventLog
	stopping chan struct{} // closed when the first Stop is entered
	once     *sync.Once
}

func newWatchedServer(tr runtime.Transport, log *eventLog) watchedServer {
	return watchedServer{Transport: tr, log: log, stopping: make(chan struct{}), once: new(sync.Once)}
}

func (w watchedServer) Subscribe(topic, group string, h runtime.MessageHandler) (runtime.Subscription, error) {
	sub, err := w.Transport.Subscribe(topic, group, func(ctx context.Context, m *runtime.Message) error {
		err := h(ctx, m)
		w.log.add(evHandlerReturned)
		return err
	})
	if err != nil {
		return nil, err
	}
	return watchedSubscription{sub, w}, nil
}

func (w watchedServer) Reply(ctx context.Context, request, reply *runtime.Message) error {
	err := w.Transport.Reply(ctx, request, reply)
	if err == nil {
		w.log.add(evReplySent)
	}
	return err
}

type watchedSubscription struct {
	runtime.Subscription
	w watchedServer
}

func (s watchedSubscription) Stop() error {
	s.w.log.add(evStopEntered)
	s.w.once.Do(func() { close(s.w.stopping) })
	return s.Subscription.Stop()
}

// countingDeliveries counts the messages its transport has handed to the
// handlers of its subscriptions.
type countingDeliveries struct {
	runtime.Transport
	delivered *atomic.Int64
}

func (c countingDeliveries) Subscribe(topic, group string, h runtime.MessageHandler) (runtime.Subscription, error) {
	return c.Transport.Subscribe(topic, group, func(ctx context.Context, m *runtime.Message) error {
		c.delivered.Add(1)
		return h(ctx, m)
	})
}
