package runtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mqrpc/mqrpc/codec"
)

// Server consumes requests for its registered services from a Transport,
// runs their handlers and sends the replies.
type Server struct {
	transport Transport
	opts      serverOptions
	codecs    *codec.Registry
	intercept UnaryServerInterceptor
	system    string     // of the transport, for CallInfo
	instance  string     // names the server in fan-out replies; see InstanceID
	dedup     *dedup     // the call ids this process took
	store     DedupStore // shared by the servers of a group; nil without WithDedupStore
	sem       chan struct{}

	// ctx is the parent of every handler's context; Stop cancels it.
	ctx    context.Context
	cancel context.CancelFunc

	mu       sync.Mutex
	methods  map[string]*serverMethod // by full method name
	byTopic  map[string]string        // topic -> service name, for requests without a method property
	services map[string]any           // service name -> impl
	descs    []*ServiceDesc           // in registration order, for Description
	subs     []Subscription
	started  bool
	stopped  bool
	done     chan struct{}

	stats serverCounters

	// received is the last mqrpc-received value formatted: the replies
	// of one millisecond share it, so that the property costs no
	// allocation per call under load.
	received atomic.Pointer[unixMilliText]
}

// ServerStats counts requests a server did not run, for operators: a
// snapshot, as database/sql's DBStats is.
type ServerStats struct {
	Expired    uint64 // deadline had passed when the request was taken
	Duplicates uint64 // call id already taken while its deadline lives
	// DeadLettered counts requests handed to the transport's dead-letter
	// queue: their call id was claimed in the DedupStore and never
	// finished.
	DeadLettered uint64
}

// serverCounters are the live counters behind ServerStats.
type serverCounters struct {
	expired, duplicates, deadLettered atomic.Uint64
}

type serverMethod struct {
	desc *MethodDesc
	info UnaryServerInfo
	call UnaryHandler // desc.Call on the implementation
}

func newServerMethod(m *MethodDesc, impl any, full string) *serverMethod {
	return &serverMethod{
		desc: m,
		info: UnaryServerInfo{Server: impl, FullMethod: full},
		call: func(ctx context.Context, args any) (any, error) { return m.Call(ctx, impl, args) },
	}
}

// NewServer returns a server that serves over t.
func NewServer(t Transport, opts ...ServerOption) *Server {
	s := &Server{
		transport: t,
		opts: serverOptions{
			maxMessageSize: DefaultMaxMessageSize,
			maxConcurrency: DefaultMaxConcurrency,
			dedupSize:      DefaultDedupSize,
			logger:         discardLogger,
		},
		methods:  make(map[string]*serverMethod),
		byTopic:  make(map[string]string),
		services: make(map[string]any),
		done:     make(chan struct{}),
	}
	for _, o := range opts {
		o.applyServer(&s.opts)
	}
	s.codecs = codec.NewRegistry(s.opts.codecs...)
	s.intercept = chainServer(s.opts.interceptors)
	s.dedup = newDedup(s.opts.dedupSize)
	s.store = s.opts.dedupStore
	s.system = systemOf(t)
	s.instance = instanceID(s.opts.instance, t)
	s.sem = make(chan struct{}, max(s.opts.maxConcurrency, 1))
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s
}

// Stats returns the server's counters as they are now.
func (s *Server) Stats() ServerStats {
	return ServerStats{
		Expired:      s.stats.expired.Load(),
		Duplicates:   s.stats.duplicates.Load(),
		DeadLettered: s.stats.deadLettered.Load(),
	}
}

// RegisterService serves impl as the service desc describes. It is called by
// generated Register functions, before Start or Serve.
func (s *Server) RegisterService(desc *ServiceDesc, impl any) error {
	if desc.HandlerType != nil {
		want := reflect.TypeOf(desc.HandlerType).Elem()
		if impl == nil || !reflect.TypeOf(impl).Implements(want) {
			return fmt.Errorf("mqrpc: %T does not implement %s", impl, want)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return fmt.Errorf("mqrpc: RegisterService(%s) after the server started", desc.ServiceName)
	}
	if _, dup := s.services[desc.ServiceName]; dup {
		return fmt.Errorf("mqrpc: service %s registered twice", desc.ServiceName)
	}
	topic := s.topicOf(desc.ServiceName)
	if other, dup := s.byTopic[topic]; dup {
		return fmt.Errorf("mqrpc: services %s and %s share topic %s", other, desc.ServiceName, topic)
	}
	s.services[desc.ServiceName] = impl
	s.byTopic[topic] = desc.ServiceName
	for i := range desc.Methods {
		m := &desc.Methods[i]
		full := FullMethodName(desc.ServiceName, m.Name)
		s.methods[full] = newServerMethod(m, impl, full)
	}
	s.addDescribe(desc, impl)
	return nil
}

func (s *Server) topicOf(service string) string {
	if t, ok := s.opts.topics[service]; ok {
		return t
	}
	return TopicFor(service)
}

// Start subscribes to the request topic of every registered service and
// returns; requests are then served in the background until Stop or
// GracefulStop.
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return ErrClosed
	}
	if s.started {
		return errors.New("mqrpc: server already started")
	}
	if len(s.services) == 0 {
		return errors.New("mqrpc: no services registered")
	}
	for topic := range s.byTopic {
		sub, err := s.transport.Subscribe(topic, GroupFor(topic), s.handle)
		if err != nil {
			for _, sub := range s.subs {
				_ = sub.Stop()
			}
			s.subs = nil
			return wrapError(Unavailable, fmt.Errorf("subscribe %s: %w", topic, err))
		}
		s.subs = append(s.subs, sub)
		// The ordered calls to the service come on a topic of their own.
		if sub, err = s.subscribeOrdered(topic); err != nil {
			for _, sub := range s.subs {
				_ = sub.Stop()
			}
			s.subs = nil
			return wrapError(Unavailable, err)
		}
		if sub != nil {
			s.subs = append(s.subs, sub)
		}
		// So do the fan-out calls.
		if sub, err = s.subscribeFanout(topic); err != nil {
			for _, sub := range s.subs {
				_ = sub.Stop()
			}
			s.subs = nil
			return wrapError(Unavailable, err)
		}
		if sub != nil {
			s.subs = append(s.subs, sub)
		}
	}
	s.started = true
	return nil
}

// Serve starts the server and blocks until it is stopped.
func (s *Server) Serve() error {
	if err := s.Start(); err != nil {
		return err
	}
	<-s.done
	return nil
}

// GracefulStop stops taking requests, lets the handlers in progress finish
// and sends their replies, then returns.
func (s *Server) GracefulStop() { s.stop(false) }

// Stop stops taking requests and cancels the contexts of the handlers in
// progress; it returns when they have returned.
func (s *Server) Stop() { s.stop(true) }

func (s *Server) stop(cancel bool) {
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		<-s.done
		return
	}
	s.stopped = true
	subs := s.subs
	s.subs = nil
	s.mu.Unlock()

	if cancel {
		s.cancel()
	}
	for _, sub := range subs {
		if err := sub.Stop(); err != nil {
			s.opts.logger.Warn("mqrpc: stop subscription", "err", err)
		}
	}
	s.cancel()
	close(s.done)
}

// errStopping asks the transport to redeliver a request that arrived while
// the server was stopping, so another server takes it.
var errStopping = errors.New("mqrpc: server stopping")

// handle is the transport handler for every request topic.
func (s *Server) handle(_ context.Context, msg *Message) error {
	select {
	case s.sem <- struct{}{}:
	case <-s.ctx.Done():
		return errStopping
	}
	defer func() { <-s.sem }()
	if s.ctx.Err() != nil {
		return errStopping
	}
	return s.serve(msg)
}

// request is a decoded request envelope.
type request struct {
	id       string
	method   string
	codec    codec.Codec
	deadline time.Time
	received time.Time // when the server took the request
	md       Metadata
	fanout   bool // a fan-out call: every server instance answers it
}

// serve runs one request and replies to it. Every failure it can see is
// replied with a status; nothing is returned to the transport to retry. It
// returns ErrDeadLetter for a request whose call id was claimed in the
// DedupStore and never finished.
func (s *Server) serve(msg *Message) error {
	now := time.Now()
	req, m, perr := s.parse(msg, now)
	if perr == nil {
		perr = s.checkBody(msg, req.method)
	}
	if !now.Before(req.deadline) {
		s.stats.expired.Add(1)
		return nil // the caller has given up; do not run it
	}
	if req.id != "" {
		if run, err := s.claim(msg, req); !run {
			return err
		}
	}
	if perr != nil {
		s.finish(req)
		s.reply(new(Message), msg, req, nil, perr, nil)
		return nil
	}
	args := m.desc.NewArgs()
	if err := s.decodeArgs(req.codec, msg.Body, args, req.method); err != nil {
		s.finish(req)
		s.reply(new(Message), msg, req, nil, err, nil)
		return nil
	}

	ctx := &handlerContext{parent: s.ctx, deadline: req.deadline, md: req.md, rec: callRecord{info: CallInfo{
		ID:              req.id,
		Method:          req.method,
		Topic:           msg.Topic,
		RequestSent:     msg.SentAt,
		RequestStored:   msg.StoredAt,
		RequestReceived: now,
		Attempt:         msg.Attempt,
		System:          s.system,
	}}}
	results, err := s.run(ctx, m, args)
	ctx.release()
	s.finish(req)
	if m.desc.OneWay {
		if err != nil {
			s.opts.logger.Warn("mqrpc: one-way call failed", "method", req.method, "call_id", req.id, "err", err)
		}
		return nil
	}
	s.reply(&ctx.reply, msg, req, results, err, ctx.trailer)
	return nil
}

// claim takes the request's call id, first in this process's memory, then
// in the DedupStore when there is one. It reports whether the server is to
// run the request; when not, err is for the transport (nil: the request is
// dealt with).
func (s *Server) claim(msg *Message, req request) (run bool, err error) {
	if s.dedup.claim(req.id, req.deadline, req.received) != ClaimNew {
		// This process runs or ran the call: its reply is on its way or
		// sent.
		s.stats.duplicates.Add(1)
		return false, nil
	}
	if s.store == nil || req.fanout {
		// Every instance runs a fan-out call: a store shared by the
		// instances would let only the first.
		return true, nil
	}
	// Not cut short by Stop: a claim that reached the store but whose
	// answer was lost would leave the call claimed and never run.
	ctx, cancel := context.WithDeadline(context.WithoutCancel(s.ctx), req.deadline)
	state, err := s.store.Claim(ctx, req.id, req.deadline)
	cancel()
	if err != nil {
		// Running the call unrecorded could run it twice; the caller
		// learns why it did not run.
		s.reply(new(Message), msg, req, nil, Errorf(Unavailable, "dedup store cannot claim call %s: %v", req.id, err), nil)
		s.dedup.finish(req.id, req.deadline)
		return false, nil
	}
	switch state {
	case ClaimNew:
		return true, nil
	case ClaimDone:
		s.stats.duplicates.Add(1)
		s.dedup.finish(req.id, req.deadline)
		return false, nil
	default:
		// Claimed by a server that is not this one and not finished:
		// that server died running it (perhaps of this very request) or
		// runs it still. Either way it must not run here, nor come back.
		s.stats.deadLettered.Add(1)
		s.dedup.finish(req.id, req.deadline)
		s.opts.logger.Warn("mqrpc: request dead-lettered: its call id is claimed and not finished",
			"method", req.method, "call_id", req.id, "attempt", msg.Attempt)
		return false, ErrDeadLetter
	}
}

// finish records that the request's handler has returned (or that the
// request was refused), in this process's memory and in the DedupStore,
// before the reply is sent: a server that dies between the two leaves a
// call that ran as done, not as one that may have killed it. The store gets
// until the call's deadline, even when the server is stopping: an
// unfinished record would dead-letter a redelivery of a call that did run.
func (s *Server) finish(req request) {
	if req.id == "" {
		return
	}
	s.dedup.finish(req.id, req.deadline)
	if s.store == nil || req.fanout {
		return
	}
	ctx, cancel := context.WithDeadline(context.WithoutCancel(s.ctx), req.deadline)
	defer cancel()
	if err := s.store.Finish(ctx, req.id, req.deadline); err != nil {
		s.opts.logger.Warn("mqrpc: dedup store cannot finish call", "method", req.method, "call_id", req.id, "err", err)
	}
}

// checkBody refuses a request whose body the transport could not deliver,
// or that is over the max message size: clients check the size of what they
// send, but a body may grow on the way (a compressed one inflates) or come
// from a sender that checks nothing.
func (s *Server) checkBody(msg *Message, method string) *Error {
	if msg.Err != nil {
		return toError(msg.Err)
	}
	if len(msg.Body) > s.opts.maxMessageSize {
		return Errorf(ResourceExhausted, "request to %s is %d bytes, over the limit of %d", method, len(msg.Body), s.opts.maxMessageSize)
	}
	return nil
}

// parse reads the request envelope. The returned request is usable for a
// reply even when err is set.
func (s *Server) parse(msg *Message, now time.Time) (request, *serverMethod, *Error) {
	p := msg.Properties
	req := request{id: p[PropCorrelationID], method: p[PropMethod], codec: codec.Msgpack, received: now, md: takeMetadata(p, MetadataPrefix)}
	if req.id == "" {
		req.id = msg.Key
	}
	req.fanout = p[PropFanout] != ""
	// A request without a deadline (from a plain RocketMQ client that set
	// no TTL either, which the RocketMQ transport would have turned into
	// one) gets the default timeout, so that the handler and dedup memory
	// are bounded. It counts from when the request was sent, so that each
	// redelivery of it has the same deadline (and the same dedup record)
	// rather than a later one.
	req.deadline = now.Add(DefaultTimeout)
	if !msg.SentAt.IsZero() {
		req.deadline = msg.SentAt.Add(DefaultTimeout)
	}
	if d, ok := p[PropDeadline]; ok {
		ms, err := strconv.ParseInt(d, 10, 64)
		if err != nil {
			return req, nil, Errorf(InvalidArgument, "malformed %s property %q", PropDeadline, d)
		}
		req.deadline = time.UnixMilli(ms)
	}
	if v, ok := p[PropVersion]; ok && v != ProtocolVersion {
		return req, nil, Errorf(InvalidArgument, "unsupported protocol version %q, this server speaks %s", v, ProtocolVersion)
	}
	if name, ok := p[PropCodec]; ok {
		c, err := s.codecs.Lookup(name)
		if err != nil {
			return req, nil, wrapError(InvalidArgument, err)
		}
		req.codec = c
	}
	// methods and byTopic are read without the lock: registration ends
	// when the server starts (RegisterService refuses afterwards), and
	// requests are delivered only after Start has subscribed.
	if req.method == "" {
		// Plain RocketMQ clients name the method by topic and tag.
		req.method = FullMethodName(s.serviceOfTopic(msg.Topic), msg.Tag)
	}
	m := s.methods[req.method]
	if m == nil {
		return req, nil, Errorf(Unimplemented, "unknown method %s", req.method)
	}
	return req, m, nil
}

// run calls the handler through the interceptors, turning a panic into an
// Internal error so that one bad call cannot take the server down.
func (s *Server) run(ctx context.Context, m *serverMethod, args any) (results any, err error) {
	defer func() {
		if r := recover(); r != nil {
			id := ""
			if ci, ok := CallInfoFromContext(ctx); ok {
				id = ci.ID
			}
			s.panicLogger().Error("mqrpc: handler panic", "method", m.info.FullMethod, "call_id", id, "panic", r, "stack", string(debug.Stack()))
			// The panic's value may hold anything the handler had at hand;
			// the caller gets the call id to find it in the server's log.
			msg := fmt.Sprintf("handler panic in call %s; the server's log has it", id)
			if s.opts.panicDetails {
				msg = fmt.Sprintf("handler panic in call %s: %v", id, r)
			}
			results, err = nil, Errorf(Internal, "%s", msg)
		}
	}()
	if s.intercept == nil {
		return m.call(ctx, args)
	}
	return s.intercept(ctx, args, &m.info, m.call)
}

// panicLogger is where a handler panic is logged: the server's logger, or
// slog.Default() when none was given, so that a panic is never silent.
func (s *Server) panicLogger() *slog.Logger {
	if s.opts.logger == discardLogger {
		return slog.Default()
	}
	return s.opts.logger
}

// reply encodes the reply to msg into out and sends it.
func (s *Server) reply(out *Message, msg *Message, req request, results any, err error, trailer Metadata) {
	props := make(map[string]string, 5+len(trailer))
	props[PropCorrelationID] = req.id
	props[PropReceived] = s.unixMilli(req.received)
	if req.fanout {
		props[PropInstance] = s.instance
	}
	if err == nil {
		if terr := validMetadata(trailer); terr != nil {
			err, trailer = Errorf(Internal, "handler set a trailer that cannot be sent: %v", terr), nil
		}
	}
	putMetadata(props, TrailerPrefix, trailer)
	var body []byte
	if err == nil && results != nil {
		var encErr error
		body, encErr = marshal(req.codec, results)
		switch {
		case encErr != nil:
			err = Errorf(Internal, "encode results of %s: %v", req.method, encErr)
		case len(body) > s.opts.maxMessageSize:
			err = Errorf(ResourceExhausted, "reply of %s is %d bytes, over the limit of %d", req.method, len(body), s.opts.maxMessageSize)
		}
	}
	if err != nil {
		e := toError(err)
		props[PropStatus] = strconv.FormatUint(uint64(e.Code), 10)
		props[PropMessage] = sanitizeProperty(e.Message)
		body = e.Details
	} else {
		props[PropCodec] = req.codec.Name()
	}
	*out = Message{Topic: msg.Topic, Tag: msg.Tag, Key: req.id, Properties: props, Body: body}
	switch err := s.transport.Reply(s.ctx, msg, out); {
	case errors.Is(err, ErrRequesterGone):
		s.opts.logger.Debug("mqrpc: reply stored but not pushed: the requester is gone", "method", req.method, "call_id", req.id, "err", err)
	case err != nil:
		s.opts.logger.Warn("mqrpc: send reply", "method", req.method, "call_id", req.id, "err", err)
	}
}

// unixMilliText is a time in unix milliseconds and its decimal text.
type unixMilliText struct {
	ms   int64
	text string
}

// unixMilli returns t in unix milliseconds as a decimal string.
func (s *Server) unixMilli(t time.Time) string {
	ms := t.UnixMilli()
	if last := s.received.Load(); last != nil && last.ms == ms {
		return last.text
	}
	last := &unixMilliText{ms: ms, text: strconv.FormatInt(ms, 10)}
	s.received.Store(last)
	return last.text
}

// marshal encodes v, turning a codec panic into an error: results are
// encoded outside the handler's recover, and one bad value must not take the
// server down.
func marshal(c codec.Codec, v any) (b []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			b, err = nil, fmt.Errorf("codec %s panicked: %v", c.Name(), r)
		}
	}()
	return c.Marshal(v)
}
