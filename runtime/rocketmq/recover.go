package rocketmq

import (
	"errors"
	"fmt"
	"net"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/rocketmq-client-go/v2/primitive"
)

// Recovery after a broker restart.
//
// When a broker dies, the library closes its connection to it, but leaves
// the requests in flight on that connection waiting for answers that cannot
// come, each until its own timeout. A push consumer keeps one long-polling
// pull in flight per queue, with a 30 s timeout, and after the timeout it
// waits 3 s more before it pulls again: a server pulls the queues of a
// restarted broker again only 30-33 s after the broker died, however soon
// it is back, and the requests stored there wait for it (or expire). The
// library also learns the broker's return, for the routes of the topics its
// producers and consumers use, only at its next route refresh, every 30 s;
// a consumer whose route dropped the broker while it was down pulls none of
// its queues until then, while producers that kept it send requests there.
// And the restarted broker pushes replies only to clients that have
// heartbeated to it since it started.
//
// So each transport watches its client's connections. When the connection
// to a broker closes, the transport tries the broker's address until it
// accepts a connection again (at once when only the connection broke), and
// then
//   - heartbeats to every broker until the restarted one has taken it, so
//     that it knows the client's producer and consumer groups (for replies,
//     and for pulls, which a broker refuses for a group that has not
//     heartbeated);
//   - has the pulls of that broker's queues started again, through the
//     library's own path for a pull that is stuck: a queue whose last pull
//     began long ago is dropped at the next rebalance and taken up again
//     with a new pull, from the committed offset. The transport marks the
//     broker's queues so and rebalances;
//   - asks the name server for the routes of the client's topics until it
//     lists the broker again (a restarted broker registers a moment after
//     it listens), so that consumers pull, and producers send to, its
//     queues again; and rebalances once more.
//
// The pull that was stuck ends by its timeout, finds its queue dropped, and
// stops. A request in flight on a dropped queue may be delivered again,
// which a dedup store absorbs; a restarted broker can redeliver requests
// anyway, since it keeps the consumer offsets it was sent only every 5 s.

const (
	// brokerWatchInterval is how often the transport looks at its
	// connections, and tries the address of a broker whose connection
	// closed.
	brokerWatchInterval = 100 * time.Millisecond
	// brokerProbeTimeout bounds one try of a broker's address.
	brokerProbeTimeout = 250 * time.Millisecond
	// brokerRouteWait bounds how long after a broker is back the transport
	// asks the name server for it; after that the library's own route
	// refresh is left to find it.
	brokerRouteWait = 30 * time.Second
)

// brokerWatch is the state of a transport's watch over its brokers.
type brokerWatch struct {
	conns *sync.Map // the library's connections, by address
	stop  chan struct{}
	done  chan struct{}

	seen map[string]any       // each address's connection at the last look
	lost map[string]time.Time // addresses whose connection closed, since when
	back map[string]time.Time // back since then, but not yet routed by the name server
}

// newBrokerWatch returns a watch over the connections of client c, which
// startBrokerWatch starts and stopBrokerWatch stops. It checks that the
// client has what recovery uses.
func (c libClient) newBrokerWatch() (*brokerWatch, error) {
	if _, ok := c.v.Interface().(interface{ RebalanceIfNotPaused() }); !ok {
		return nil, errors.New("client has no RebalanceIfNotPaused method")
	}
	if _, ok := c.v.Interface().(interface{ UpdateTopicRouteInfo() }); !ok {
		return nil, errors.New("client has no UpdateTopicRouteInfo method")
	}
	if _, _, err := c.brokerVersions(); err != nil {
		return nil, err
	}
	conns, err := c.connections()
	if err != nil {
		return nil, err
	}
	return &brokerWatch{
		conns: conns,
		stop:  make(chan struct{}),
		done:  make(chan struct{}),
		lost:  map[string]time.Time{},
		back:  map[string]time.Time{},
	}, nil
}

// connections returns the client's connections now, by address.
func (w *brokerWatch) connections() map[string]any {
	current := map[string]any{}
	w.conns.Range(func(k, v any) bool {
		if addr, ok := k.(string); ok {
			current[addr] = v
		}
		return true
	})
	return current
}

// startBrokerWatch starts the watch, from the connections the client has
// now: New has registered with every broker, so there is one to each.
func (t *Transport) startBrokerWatch() {
	t.watch.seen = t.watch.connections()
	go t.watchBrokers()
}

// stopBrokerWatch stops the watch and waits for a recovery in progress.
func (t *Transport) stopBrokerWatch() {
	close(t.watch.stop)
	<-t.watch.done
}

// watchBrokers watches the client's connections until stopBrokerWatch, and
// recovers from each broker restart it sees.
func (t *Transport) watchBrokers() {
	w := t.watch
	defer close(w.done)
	tick := time.NewTicker(brokerWatchInterval)
	defer tick.Stop()
	for {
		select {
		case <-w.stop:
			return
		case <-tick.C:
		}
		now := time.Now()
		current := w.connections()
		for addr, c := range w.seen {
			if _, isLost := w.lost[addr]; current[addr] != c && !isLost {
				// Closed, or closed and opened again between two looks:
				// either way the requests in flight on it are lost.
				w.lost[addr] = now
				delete(w.back, addr)
			}
		}
		w.seen = current
		for addr, since := range w.lost {
			if stopped(w.stop) {
				return
			}
			if now.Sub(since) > forgetBrokerAfter {
				delete(w.lost, addr) // gone for good, most likely
				continue
			}
			if !reachable(addr) {
				continue
			}
			if at, ok := t.brokerBack(addr); ok {
				delete(w.lost, addr)
				w.back[addr] = at
			}
		}
		for addr, at := range w.back {
			if stopped(w.stop) {
				return
			}
			if t.brokerRouted(addr, at) || now.Sub(at) > brokerRouteWait {
				delete(w.back, addr)
			}
		}
	}
}

func stopped(stop chan struct{}) bool {
	select {
	case <-stop:
		return true
	default:
		return false
	}
}

// reachable reports whether addr accepts a TCP connection.
func reachable(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, brokerProbeTimeout)
	if err != nil {
		return false
	}
	_ = c.Close()
	return true
}

// brokerBack heartbeats to every broker and, once the broker at addr, which
// accepts connections again, has taken the heartbeat, restarts the pulls of
// its queues and returns when the heartbeat was done.
//
// A broker refuses the pulls of a consumer group that has not heartbeated
// to it since it started, and the library waits 3 s before it pulls again:
// so every pull of the broker's queues that began before the heartbeat was
// done is restarted. A broker also answers a rebalance's question for the
// group's consumers with none until then, and the rebalance drops every
// queue of the topic: the rebalance here, after the heartbeat, takes them
// up again.
func (t *Transport) brokerBack(addr string) (time.Time, bool) {
	reached, err := t.client.heartbeatTo(addr)
	if err != nil {
		t.cfg.Logger.Warn("mqrpc: rocketmq heartbeat to a restarted broker", "broker", addr, "err", err)
	}
	if !reached {
		return time.Time{}, false
	}
	at := time.Now()
	t.restartPulls(addr, at)
	return at, true
}

// brokerRouted reports whether the name server routes the broker at addr,
// which took the client's heartbeat at at, again. Once it does, the routes
// of the client's topics are brought up to date, so that consumers pull,
// and producers send to, its queues again, and the pulls that are still
// stuck are restarted.
func (t *Transport) brokerRouted(addr string, at time.Time) bool {
	brokers, err := t.brokers()
	if err != nil {
		return false
	}
	for _, a := range brokers {
		if a == addr {
			t.client.updateRoutes()
			t.restartPulls(addr, at)
			return true
		}
	}
	return false
}

// restartPulls rebalances the client's consumers so that every queue of
// the broker at addr whose pull began before then is pulled anew. Such a
// pull waits on the closed connection, or out the pause after a failed
// pull.
//
// The rebalance asks the broker for each such queue's committed offset,
// one queue after the other, which a broker that has just started answers
// slowly: the queues of the service topics go first, those of the retry
// topics, which carry only requests handed back, in a second rebalance.
func (t *Transport) restartPulls(addr string, before time.Time) {
	for _, retry := range []bool{false, true} {
		t.expirePulls(addr, before, func(topic string) bool { return strings.HasPrefix(topic, retryTopicPrefix) == retry })
		t.client.rebalance()
	}
}

// expirePulls marks every queue of a topic for which ofTopic is true and
// of the broker at addr that a subscription of t pulls, and whose last
// pull began before then, as one whose pull is stuck, which the next
// rebalance replaces with a new pull.
func (t *Transport) expirePulls(addr string, before time.Time, ofTopic func(string) bool) {
	ns, err := t.client.nameServer()
	if err != nil {
		return
	}
	t.mu.Lock()
	subs := make([]*subscription, 0, len(t.subs))
	for s := range t.subs {
		subs = append(subs, s)
	}
	t.mu.Unlock()
	for _, s := range subs {
		if s.queues == nil {
			continue
		}
		s.queues.Range(func(k, v any) bool {
			mq, ok := k.(primitive.MessageQueue)
			if !ok || !ofTopic(mq.Topic) || ns.FindBrokerAddrByName(mq.BrokerName) != addr {
				return true
			}
			if err := expirePull(v, before); err != nil {
				t.cfg.Logger.Warn("mqrpc: rocketmq restart of a pull", "queue", mq.String(), "err", err)
				return false
			}
			return true
		})
	}
}

// consumerQueues returns the table of queues a push consumer
// (*consumer.pushConsumer) pulls: primitive.MessageQueue to the library's
// *processQueue.
func consumerQueues(c any) (*sync.Map, error) {
	v := reflect.ValueOf(c)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return nil, fmt.Errorf("consumer is %T, not a struct pointer", c)
	}
	dc, err := field(v.Elem(), "defaultConsumer")
	if err != nil {
		return nil, err
	}
	if dc.Kind() != reflect.Pointer || dc.IsNil() || dc.Elem().Kind() != reflect.Struct {
		return nil, fmt.Errorf("consumer's defaultConsumer is %s, not a set struct pointer", dc.Type())
	}
	return syncMap(dc.Elem(), "processQueueTable")
}

// expirePull marks a queue's pull (a *processQueue) that began before then
// as begun at the zero time: the library's rebalance drops a queue whose
// pull began more than two minutes ago as stuck, and pulls it again.
func expirePull(pq any, before time.Time) error {
	v := reflect.ValueOf(pq)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return fmt.Errorf("process queue is %T, not a struct pointer", pq)
	}
	f, err := field(v.Elem(), "lastPullTime")
	if err != nil {
		return err
	}
	// The library's go.uber.org/atomic.Value embeds a sync/atomic.Value.
	if f.Kind() == reflect.Struct && f.Type() != reflect.TypeFor[atomic.Value]() {
		if f, err = field(f, "Value"); err != nil {
			return err
		}
	}
	if f.Type() != reflect.TypeFor[atomic.Value]() {
		return fmt.Errorf("lastPullTime is %s, not an atomic.Value", f.Type())
	}
	last := f.Addr().Interface().(*atomic.Value)
	began, ok := last.Load().(time.Time)
	if !ok {
		return errors.New("lastPullTime does not hold a time.Time")
	}
	if began.Before(before) {
		// A pull that begins meanwhile stores its own time, which stays.
		last.CompareAndSwap(began, time.Time{})
	}
	return nil
}

// connections returns the client's table of open connections to brokers,
// by address. The library removes a connection from it when the
// connection fails.
func (c libClient) connections() (*sync.Map, error) {
	rc, err := field(c.v.Elem().Elem(), "remoteClient")
	if err != nil {
		return nil, err
	}
	if rc.Kind() != reflect.Interface || rc.IsNil() {
		return nil, errors.New("client's remoteClient is not a set interface")
	}
	if rc.Elem().Kind() != reflect.Pointer || rc.Elem().Elem().Kind() != reflect.Struct {
		return nil, fmt.Errorf("remoteClient is %s, not a struct pointer", rc.Elem().Type())
	}
	return syncMap(rc.Elem().Elem(), "connectionTable")
}

// rebalance has the client's consumers that are not suspended rebalance
// their queues now. A suspended consumer is stopping: a rebalance could
// hand work to its closed pull loop.
func (c libClient) rebalance() {
	if i, ok := c.v.Interface().(interface{ RebalanceIfNotPaused() }); ok {
		i.RebalanceIfNotPaused()
	}
}

// updateRoutes fetches the routes of every topic the client's producers
// have sent to and its consumers subscribe, and hands the changed ones to
// them: what the library does every 30 s.
func (c libClient) updateRoutes() {
	if i, ok := c.v.Interface().(interface{ UpdateTopicRouteInfo() }); ok {
		i.UpdateTopicRouteInfo()
	}
}

// brokerVersions returns the library's record of the version each broker
// answered the client's last heartbeat with, by broker name and address,
// and the lock that guards it.
func (c libClient) brokerVersions() (map[string]map[string]int32, *sync.RWMutex, error) {
	v, err := c.nameServerStruct()
	if err != nil {
		return nil, nil, err
	}
	m, err := field(v.Elem(), "brokerVersionMap")
	if err != nil {
		return nil, nil, err
	}
	versions, ok := m.Interface().(map[string]map[string]int32)
	if !ok {
		return nil, nil, fmt.Errorf("brokerVersionMap is %s, not map[string]map[string]int32", m.Type())
	}
	l, err := field(v.Elem(), "brokerLock")
	if err != nil {
		return nil, nil, err
	}
	lock, ok := l.Interface().(*sync.RWMutex)
	if !ok || lock == nil {
		return nil, nil, fmt.Errorf("brokerLock is %s, not a set *sync.RWMutex", l.Type())
	}
	return versions, lock, nil
}

// heartbeatTo heartbeats to every broker in the client's table and reports
// whether the broker at addr took it: the library keeps no other trace of
// a heartbeat's outcome than the version the broker answers with, so that
// record is cleared for addr first. (The library reads it only for a pull
// consumer's pulls, which mqrpc makes on clients of their own.)
func (c libClient) heartbeatTo(addr string) (bool, error) {
	versions, lock, err := c.brokerVersions()
	if err != nil {
		return false, err
	}
	lock.Lock()
	for _, byAddr := range versions {
		delete(byAddr, addr)
	}
	lock.Unlock()
	if err := c.heartbeat(); err != nil {
		return false, err
	}
	lock.RLock()
	defer lock.RUnlock()
	for _, byAddr := range versions {
		if _, ok := byAddr[addr]; ok {
			return true, nil
		}
	}
	return false, nil
}
