package rocketmq

import (
	"maps"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/mqrpc/mqrpc/runtime/rocketmq/rocketmqtest"
)

// pinned returns, from the library's tables behind tr, the brokers of its
// broker address table and of the pinned route, each as the set of the
// table's values (pointers) by broker name.
func pinned(t *testing.T, tr *Transport) (table, route map[string]any) {
	t.Helper()
	ns, err := tr.client.nameServerStruct()
	if err != nil {
		t.Fatal(err)
	}
	v := ns.Elem()
	addrs, err := syncMap(v, "brokerAddressesMap")
	if err != nil {
		t.Fatal(err)
	}
	routes, err := syncMap(v, "routeDataMap")
	if err != nil {
		t.Fatal(err)
	}
	table = map[string]any{}
	addrs.Range(func(k, v any) bool { table[k.(string)] = v; return true })
	r, ok := routes.Load(pinnedRouteKey)
	if !ok {
		t.Fatalf("no route cached under %s", pinnedRouteKey)
	}
	list, err := field(reflect.ValueOf(r).Elem(), "BrokerDataList")
	if err != nil {
		t.Fatal(err)
	}
	route = map[string]any{}
	for i := range list.Len() {
		name, _, err := brokerData(list.Index(i))
		if err != nil {
			t.Fatal(err)
		}
		route[name] = list.Index(i).Interface()
	}
	return table, route
}

// TestBrokerTableIsPinned checks what keeps the library's heartbeat loop
// from deleting addresses out of its broker table while other goroutines
// read them (a data race that TestBrokersKilledAndRestarted met under
// -race): after registering, every broker of the table is listed, by the
// same record, in a cached route; a broker missing from the cluster for
// forgetBrokerAfter is removed from the table whole and from that route.
func TestBrokerTableIsPinned(t *testing.T) {
	tr, err := New(Config{NameServers: []string{rocketmqtest.NameServer(t)}})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()

	table, route := pinned(t, tr)
	if len(table) == 0 {
		t.Fatal("the broker table is empty after New")
	}
	for name, bd := range table {
		if route[name] != bd {
			t.Errorf("broker %s: the pinned route lists %p, the table holds %p", name, route[name], bd)
		}
	}

	// Pretend the first broker left the cluster long ago.
	gone := slices.Sorted(maps.Keys(table))[0]
	tr.seenMu.Lock()
	tr.brokerSeen[gone] = time.Now().Add(-forgetBrokerAfter - time.Second)
	tr.seenMu.Unlock()
	tr.seenMu.Lock()
	err = tr.client.pinBrokers(func(name string) bool { return tr.forgetBroker(name, time.Now()) })
	tr.seenMu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	table, route = pinned(t, tr)
	if _, ok := table[gone]; ok {
		t.Errorf("broker %s is still in the table", gone)
	}
	if _, ok := route[gone]; ok {
		t.Errorf("broker %s is still in the pinned route", gone)
	}
	if len(route) != len(table) {
		t.Errorf("the pinned route lists %d brokers, the table holds %d", len(route), len(table))
	}

	// When it comes back, the cluster's route changes (here: is dropped
	// from the cache), and the next registration learns it again.
	ns, err := tr.client.nameServerStruct()
	if err != nil {
		t.Fatal(err)
	}
	routes, err := syncMap(ns.Elem(), "routeDataMap")
	if err != nil {
		t.Fatal(err)
	}
	routes.Delete(tr.replyTopic())
	if err := tr.register(); err != nil {
		t.Fatal(err)
	}
	if table, route = pinned(t, tr); table[gone] == nil || route[gone] != table[gone] {
		t.Errorf("broker %s was not learned again and pinned: table %v, route %v", gone, table[gone], route[gone])
	}
}
