package rocketmq

import (
	"fmt"
	"time"
)

// register learns every broker of the cluster from the route of its reply
// topic, which each of them hosts, and heartbeats to all of them. A replier
// may send a reply through any of them, and a broker pushes replies only to
// clients that have heartbeated to it with a producer group.
func (t *Transport) register() error {
	if _, err := t.brokers(); err != nil {
		return err
	}
	return t.client.heartbeat()
}

// brokers returns the master address of every broker of the cluster by
// name, from the route of the cluster's reply topic as the name server
// gives it now. The route also goes into the library's tables, so the next
// heartbeat reaches every broker in it; and the table is pinned (see
// libClient.pinBrokers), forgetting brokers that have been out of the
// cluster for forgetBrokerAfter.
func (t *Transport) brokers() (map[string]string, error) {
	brokers, err := t.refreshRoute(t.replyTopic())
	if err != nil {
		return nil, fmt.Errorf("rocketmq: route of reply topic %s (is the name server at %v up, and the cluster named %q?): %w",
			t.replyTopic(), t.cfg.NameServers, t.cfg.Cluster, err)
	}
	if len(brokers) == 0 {
		return nil, fmt.Errorf("rocketmq: no broker of cluster %s found", t.cfg.Cluster)
	}
	now := time.Now()
	t.seenMu.Lock()
	defer t.seenMu.Unlock()
	for name := range brokers {
		t.brokerSeen[name] = now
	}
	err = t.client.pinBrokers(func(name string) bool { return t.forgetBroker(name, now) })
	if err != nil {
		return nil, fmt.Errorf("rocketmq: rocketmq-client-go is not the version mqrpc was built for: %w", err)
	}
	return brokers, nil
}

// forgetBroker reports whether the client should stop heartbeating to the
// named broker: it was in the cluster's route, but not for
// forgetBrokerAfter. A broker never in the cluster's route came from the
// route of a topic elsewhere, which the library keeps, not the transport.
// t.seenMu must be held.
func (t *Transport) forgetBroker(name string, now time.Time) bool {
	seen, ok := t.brokerSeen[name]
	if !ok || now.Sub(seen) < forgetBrokerAfter {
		return false
	}
	delete(t.brokerSeen, name)
	return true
}

// forgetBrokerAfter is how long a broker may be missing from the cluster's
// route before the client stops heartbeating to it. A broker restart takes
// seconds; one missing this long has most likely left the cluster, and the
// library learns it again when it comes back, as the route changes.
const forgetBrokerAfter = 2 * time.Minute

// keepRegistered heartbeats on its own schedule, shorter than the library's
// 30 s, so that a broker that restarted or joined the cluster learns of
// this client soon.
func (t *Transport) keepRegistered() {
	defer close(t.done)
	tick := time.NewTicker(t.cfg.HeartbeatInterval)
	defer tick.Stop()
	for {
		select {
		case <-t.stop:
			return
		case <-tick.C:
			if err := t.register(); err != nil {
				t.cfg.Logger.Warn("mqrpc: rocketmq heartbeat", "err", err)
			}
		}
	}
}
