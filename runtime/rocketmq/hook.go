package rocketmq

import (
	"errors"
	"fmt"
	"net"
	"reflect"
	"strconv"
	"sync"
	"time"
	"unsafe"

	"github.com/apache/rocketmq-client-go/v2/primitive"
)

// rocketmq-client-go offers request/reply only through producer.Request and
// RequestAsync, which replace the caller's correlation id, wait on their own
// timers instead of a context, make a name-server round trip on every call,
// and keep a timed-out call in memory for up to ten minutes. The library's
// client does everything else we need, but it keeps the pieces for the
// other path (the processor of pushed replies, the client id, the route
// table, the heartbeat) in unexported fields of its internal package.
//
// Three files reach them, by reflection, and check their shape when a
// transport is created, so that an upgrade of the pinned library that
// moves them makes New fail with a clear error instead of losing replies:
// this one (the reply path, routes, heartbeats, shutdown), inflate.go (what
// keeps the library from inflating compressed bodies, and from retrying a
// reply its requester can no longer take) and recover.go (what restarts a
// server's pulls after a broker restart). storequery.go reaches one more,
// the client's InvokeSync, for broker requests a Store sends that the
// library has no API for, checked when the Store opens. Everything else in
// the package uses the exported API.

// codePushReply is RocketMQ's PUSH_REPLY_MESSAGE_TO_CLIENT request code: the
// broker pushes a reply to the requesting client with it.
const codePushReply = int16(326)

// libClient is the library's shared client behind a producer.
type libClient struct {
	v reflect.Value // internal.RMQClient, made settable
}

// clientOf returns the client of a producer (*producer.defaultProducer).
func clientOf(producer any) (libClient, error) {
	v := reflect.ValueOf(producer)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return libClient{}, fmt.Errorf("producer is %T, not a struct pointer", producer)
	}
	f, err := field(v.Elem(), "client")
	if err != nil {
		return libClient{}, err
	}
	if f.IsNil() {
		return libClient{}, errors.New("producer has no client")
	}
	return libClient{v: f}, nil
}

// field returns the named field of struct value v, usable although it is
// unexported.
func field(v reflect.Value, name string) (reflect.Value, error) {
	f := v.FieldByName(name)
	if !f.IsValid() {
		return reflect.Value{}, fmt.Errorf("%s has no field %q", v.Type(), name)
	}
	return reflect.NewAt(f.Type(), unsafe.Pointer(f.UnsafeAddr())).Elem(), nil
}

// ID returns the client id that brokers route replies by (REPLY_TO_CLIENT).
func (c libClient) ID() (string, error) {
	i, ok := c.v.Interface().(interface{ ClientID() string })
	if !ok {
		return "", errors.New("client has no ClientID method")
	}
	return i.ClientID(), nil
}

// heartbeat registers the client, with its producer group, on every broker
// in its route table: a broker pushes replies only to clients it knows.
func (c libClient) heartbeat() error {
	i, ok := c.v.Interface().(interface{ SendHeartbeatToAllBrokerWithLock() })
	if !ok {
		return errors.New("client has no SendHeartbeatToAllBrokerWithLock method")
	}
	i.SendHeartbeatToAllBrokerWithLock()
	return nil
}

// nameServer is the part of the library's name-server client we use.
// FetchPublishMessageQueues answers from the client's route cache once the
// topic is in it; FetchSubscribeMessageQueues asks the name server.
type nameServer interface {
	FetchPublishMessageQueues(topic string) ([]*primitive.MessageQueue, error)
	FetchSubscribeMessageQueues(topic string) ([]*primitive.MessageQueue, error)
	FindBrokerAddrByName(brokerName string) string
}

func (c libClient) nameServer() (nameServer, error) {
	m := c.v.MethodByName("GetNameSrv")
	if !m.IsValid() || m.Type().NumIn() != 0 || m.Type().NumOut() != 1 {
		return nil, errors.New("client has no GetNameSrv method")
	}
	ns, ok := m.Call(nil)[0].Interface().(nameServer)
	if !ok {
		return nil, errors.New("name-server client lacks FetchPublishMessageQueues, FetchSubscribeMessageQueues or FindBrokerAddrByName")
	}
	return ns, nil
}

// routeRefresher returns a function that fetches a topic's route from the
// name server into the client's route cache, records the route's brokers in
// the table that heartbeats go to, and returns those brokers' master
// addresses by name.
//
// The library refreshes on its own, every 30 s, only the routes of topics
// its producers have sent to and its consumers subscribe; the cache answers
// everything else, FetchPublishMessageQueues included, for good once it has
// the topic. The reply topic of a client that only calls is neither, so
// without a refresh of ours a broker that joins the cluster after the
// client started, or was down when it did, is never heartbeated, and
// replies a server sends through it are refused.
func (c libClient) routeRefresher() (func(topic string) (map[string]string, error), error) {
	ns, err := c.nameServer()
	if err != nil {
		return nil, err
	}
	m := reflect.ValueOf(ns).MethodByName("UpdateTopicRouteInfo")
	errType := reflect.TypeFor[error]()
	if !m.IsValid() || m.Type().NumIn() != 1 || m.Type().In(0).Kind() != reflect.String ||
		m.Type().NumOut() != 3 || m.Type().Out(0).Kind() != reflect.Pointer || m.Type().Out(2) != errType {
		return nil, errors.New("name-server client has no UpdateTopicRouteInfo(topic) (route, changed, error) method")
	}
	return func(topic string) (map[string]string, error) {
		out := m.Call([]reflect.Value{reflect.ValueOf(topic)})
		if err, _ := out[2].Interface().(error); err != nil {
			return nil, err
		}
		if out[0].IsNil() {
			return nil, fmt.Errorf("name server has no route for topic %s", topic)
		}
		// out[0] is the library's copy of the route, this call's alone.
		list, err := field(out[0].Elem(), "BrokerDataList")
		if err != nil {
			return nil, err
		}
		brokers := make(map[string]string, list.Len())
		for i := range list.Len() {
			name, addr, err := brokerData(list.Index(i))
			if err != nil {
				return nil, err
			}
			brokers[name] = addr
		}
		return brokers, nil
	}, nil
}

// brokerData reads the name and master address of a *internal.BrokerData.
func brokerData(bd reflect.Value) (name, master string, err error) {
	if bd.Kind() != reflect.Pointer || bd.IsNil() {
		return "", "", fmt.Errorf("broker data is %s, not a pointer", bd.Type())
	}
	n, err := field(bd.Elem(), "BrokerName")
	if err != nil {
		return "", "", err
	}
	addrs, err := field(bd.Elem(), "BrokerAddresses")
	if err != nil {
		return "", "", err
	}
	addrMap, ok := addrs.Interface().(map[int64]string)
	if !ok {
		return "", "", fmt.Errorf("broker addresses are %s, not map[int64]string", addrs.Type())
	}
	return n.String(), addrMap[0], nil
}

// pinnedRouteKey is the route cache key of pinBrokers' route; no topic can
// be named with a '%' in the middle.
const pinnedRouteKey = "%mqrpc%pinned-brokers"

// pinBrokers keeps the library from editing its broker address table in
// place, which other goroutines of the library read without a lock.
//
// Every 30 s the library's heartbeat loop deletes, under its route lock,
// the addresses of brokers that no cached route lists any more, from the
// very maps that its sends, pulls and offset commits read without that
// lock: a data race, and the fatal "concurrent map read and map write"
// when the two meet. A broker drops out of the cached routes whenever it is
// down while a route is refreshed. So pinBrokers caches one more route,
// under pinnedRouteKey, that lists every broker of the table; the loop then
// finds each address still routed and edits nothing. A broker for which
// forget reports true is removed from the table whole instead, by a
// sync.Map delete that readers can race with safely, and left out of the
// pinned route.
func (c libClient) pinBrokers(forget func(broker string) bool) error {
	v, err := c.nameServerStruct()
	if err != nil {
		return err
	}
	table, err := syncMap(v.Elem(), "brokerAddressesMap")
	if err != nil {
		return err
	}
	routes, err := syncMap(v.Elem(), "routeDataMap")
	if err != nil {
		return err
	}
	// The route type is the one UpdateTopicRouteInfo returns and caches.
	m := v.MethodByName("UpdateTopicRouteInfo")
	if !m.IsValid() || m.Type().NumOut() == 0 || m.Type().Out(0).Kind() != reflect.Pointer {
		return errors.New("name-server client has no UpdateTopicRouteInfo method returning a route")
	}
	route := reflect.New(m.Type().Out(0).Elem())
	list, err := field(route.Elem(), "BrokerDataList")
	if err != nil {
		return err
	}
	var rangeErr error
	table.Range(func(key, value any) bool {
		bd := reflect.ValueOf(value)
		name, _, err := brokerData(bd)
		if err != nil {
			rangeErr = err
			return false
		}
		if forget(name) {
			table.Delete(key)
			return true
		}
		if !bd.Type().AssignableTo(list.Type().Elem()) {
			rangeErr = fmt.Errorf("broker data is %s, route lists %s", bd.Type(), list.Type().Elem())
			return false
		}
		list.Set(reflect.Append(list, bd))
		return true
	})
	if rangeErr != nil {
		return rangeErr
	}
	routes.Store(pinnedRouteKey, route.Interface())
	return nil
}

// nameServerStruct returns the client's name-server client as a pointer
// to the library's struct, whose unexported tables the workarounds here
// reach into.
func (c libClient) nameServerStruct() (reflect.Value, error) {
	ns, err := c.nameServer()
	if err != nil {
		return reflect.Value{}, err
	}
	v := reflect.ValueOf(ns)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return reflect.Value{}, fmt.Errorf("name-server client is %T, not a struct pointer", ns)
	}
	return v, nil
}

// syncMap returns the sync.Map field name of struct v.
func syncMap(v reflect.Value, name string) (*sync.Map, error) {
	f, err := field(v, name)
	if err != nil {
		return nil, err
	}
	if f.Type() != reflect.TypeFor[sync.Map]() {
		return nil, fmt.Errorf("%s is %s, not a sync.Map", name, f.Type())
	}
	return f.Addr().Interface().(*sync.Map), nil
}

// pushedReply is a reply as the broker pushed it.
type pushedReply struct {
	topic   string
	props   map[string]string
	body    []byte
	sysFlag int
	// bornTimestamp is when the replier sent the reply, by its clock, and
	// storeTimestamp when the broker took it, by the broker's; unix ms, 0
	// when the header lacks them.
	bornTimestamp, storeTimestamp int64
}

// onPushedReply has deliver called with every reply the broker pushes to
// the client, in place of the library's own processor. That processor
// parses the push a second time, logs it, and looks for a pending request
// of the library's own, which mqrpc never makes; all it does that counts
// is answer the broker with success. So the processor is run once, here,
// on a push with no fields, and its answer is the model of the one each
// push gets. onPushedReply must be called before the client starts: the
// library reads its processor table without a lock once connections
// exist.
//
// Each push holds inflight for reading until its answer is made, so that
// Close, taking it for writing, waits for the pushes it has received to be
// answered: a requester that exits right after its reply came would
// otherwise leave the broker's push unanswered, and the broker would tell
// the replier that the push failed.
func (c libClient) onPushedReply(deliver func(pushedReply), inflight *sync.RWMutex) error {
	rc, err := field(c.v.Elem().Elem(), "remoteClient")
	if err != nil {
		return err
	}
	if rc.Kind() != reflect.Interface || rc.IsNil() {
		return errors.New("client's remoteClient is not a set interface")
	}
	procs, err := field(rc.Elem().Elem(), "processors")
	if err != nil {
		return err
	}
	if procs.Kind() != reflect.Map || procs.Type().Key().Kind() != reflect.Int16 {
		return fmt.Errorf("processors is %s, want a map keyed by request code", procs.Type())
	}
	key := reflect.ValueOf(codePushReply).Convert(procs.Type().Key())
	orig := procs.MapIndex(key)
	if !orig.IsValid() {
		return errors.New("no processor registered for pushed replies")
	}
	ft := orig.Type()
	if ft.NumIn() != 2 || ft.In(0).Kind() != reflect.Pointer || ft.In(1) != reflect.TypeFor[net.Addr]() {
		return fmt.Errorf("push-reply processor is %s, want func(*RemotingCommand, net.Addr)", ft)
	}
	cmd := ft.In(0).Elem()
	if f, ok := cmd.FieldByName("ExtFields"); !ok || f.Type != reflect.TypeFor[map[string]string]() {
		return errors.New("RemotingCommand has no ExtFields map")
	}
	if f, ok := cmd.FieldByName("Body"); !ok || f.Type != reflect.TypeFor[[]byte]() {
		return errors.New("RemotingCommand has no Body")
	}
	if ft.NumOut() != 1 || ft.Out(0) != ft.In(0) {
		return fmt.Errorf("push-reply processor is %s, want it to return *RemotingCommand", ft)
	}
	probe := reflect.New(cmd)
	probe.Elem().FieldByName("ExtFields").Set(reflect.ValueOf(map[string]string{}))
	ack := orig.Call([]reflect.Value{probe, reflect.ValueOf(&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})})[0]
	if ack.IsNil() {
		return errors.New("push-reply processor gave no answer to an empty push")
	}
	if code := ack.Elem().FieldByName("Code"); !code.CanInt() || code.Int() != 0 {
		return fmt.Errorf("push-reply processor answered an empty push with code %v, want success (0)", code)
	}
	wrapped := reflect.MakeFunc(ft, func(args []reflect.Value) []reflect.Value {
		inflight.RLock()
		defer inflight.RUnlock()
		if !args[0].IsNil() {
			cmd := args[0].Elem()
			ext := cmd.FieldByName("ExtFields").Interface().(map[string]string)
			var m primitive.Message
			m.UnmarshalProperties([]byte(ext["properties"]))
			sysFlag, _ := strconv.Atoi(ext["sysFlag"])
			born, _ := strconv.ParseInt(ext["bornTimestamp"], 10, 64)
			stored, _ := strconv.ParseInt(ext["storeTimestamp"], 10, 64)
			deliver(pushedReply{
				topic:          ext["topic"],
				props:          m.GetProperties(),
				body:           cmd.FieldByName("Body").Bytes(),
				sysFlag:        sysFlag,
				bornTimestamp:  born,
				storeTimestamp: stored,
			})
		}
		// Each answer is a copy, with a map of its own: the library sets
		// fields of an answer, and signs it into its map under ACL.
		res := reflect.New(cmd)
		res.Elem().Set(ack.Elem())
		res.Elem().FieldByName("ExtFields").Set(reflect.ValueOf(map[string]string{}))
		return []reflect.Value{res}
	})
	procs.SetMapIndex(key, wrapped)
	return nil
}

// shutdown runs stop, the shutdown of the last producer or consumer on the
// client, while holding the client's rebalance and heartbeat locks. The
// library's client shutdown sets its closed flag without synchronisation
// while rebalances (started by a consumer or by a broker's notice that a
// group changed) and heartbeats may still read it; holding their locks
// orders those reads after the write, which the race detector otherwise
// reports. A lock still held after lockPatience belongs to a library
// goroutine that is stuck for good (one that reads nothing more), so the
// shutdown goes ahead without it rather than hang.
func (c libClient) shutdown(stop func() error) error {
	var held []*sync.Mutex
	for _, name := range []string{"rbMutex", "hbMutex"} {
		m, err := c.mutex(name)
		if err != nil {
			return errors.Join(err, stop())
		}
		if tryLock(m, lockPatience) {
			held = append(held, m)
		}
	}
	err := stop()
	for _, m := range held {
		m.Unlock()
	}
	return errors.Join(err, c.closeNameServer())
}

// awaitRebalance waits until no rebalance of the client is in progress. A
// consumer is stopped only after this: a rebalance that runs on into the
// consumer's shutdown blocks forever handing work to the consumer's closed
// pull loop, holding the client's rebalance lock.
func (c libClient) awaitRebalance() error {
	m, err := c.mutex("rbMutex")
	if err != nil {
		return err
	}
	if !tryLock(m, lockPatience) {
		return errors.New("a rebalance of the client did not finish")
	}
	m.Unlock()
	return nil
}

// holdRebalance defers the client's rebalances until the returned release
// is called, by holding its rebalance lock. If the lock cannot be found or
// stays held for longer than lockPatience, nothing is held and release
// does nothing.
func (c libClient) holdRebalance() (release func()) {
	m, err := c.mutex("rbMutex")
	if err != nil || !tryLock(m, lockPatience) {
		return func() {}
	}
	return m.Unlock
}

// lockPatience bounds waits on the library's locks; their holders do
// network calls of a few seconds at most.
const lockPatience = 10 * time.Second

// tryLock locks m unless it stays held for longer than patience.
func tryLock(m *sync.Mutex, patience time.Duration) bool {
	deadline := time.Now().Add(patience)
	for !m.TryLock() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(time.Millisecond)
	}
	return true
}

// mutex returns the client's mutex field name.
func (c libClient) mutex(name string) (*sync.Mutex, error) {
	f, err := field(c.v.Elem().Elem(), name)
	if err != nil || f.Type() != reflect.TypeFor[sync.Mutex]() {
		return nil, fmt.Errorf("client has no %s mutex", name)
	}
	return f.Addr().Interface().(*sync.Mutex), nil
}

// closeNameServer closes the client's name-server connections, which the
// library's shutdown leaves open, each with a reader goroutine.
//
// It first waits for a route update in flight, holding the lock the library
// takes around each one. A client runs its first update 10 ms after it
// starts, on a goroutine that shutdown does not wait for; a short-lived
// client (a Store that answers one find) can be closed while that update is
// under way, and the update would then open a new connection whose reader
// outlives the client.
func (c libClient) closeNameServer() error {
	v, err := c.nameServerStruct()
	if err != nil {
		return err
	}
	f, err := field(v.Elem(), "nameSrvClient")
	if err != nil {
		return err
	}
	rc, ok := f.Interface().(interface{ ShutDown() })
	if !ok || f.IsNil() {
		return errors.New("name-server client has no remoting client to shut down")
	}
	lock, err := field(v.Elem(), "lockNamesrv")
	if err != nil || lock.Type() != reflect.TypeFor[sync.Mutex]() {
		return fmt.Errorf("name-server client has no route lock: %v", err)
	}
	if m := lock.Addr().Interface().(*sync.Mutex); tryLock(m, lockPatience) {
		defer m.Unlock()
	}
	rc.ShutDown()
	return nil
}

// registerACL has the client sign its requests with its credentials.
func (c libClient) registerACL() error {
	i, ok := c.v.Interface().(interface{ RegisterACL() })
	if !ok {
		return errors.New("client has no RegisterACL method")
	}
	i.RegisterACL()
	return nil
}

// adminClient returns the library client behind an admin.Admin.
func adminClient(adm any) (libClient, error) {
	v := reflect.ValueOf(adm)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return libClient{}, fmt.Errorf("admin is %T, not a struct pointer", adm)
	}
	f, err := field(v.Elem(), "cli")
	if err != nil {
		return libClient{}, err
	}
	return libClient{v: f}, nil
}
