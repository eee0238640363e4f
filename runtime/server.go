package runtime

import (
	"context"
	"errors"
	"fmt"
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
	dedup     *dedup
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

	stats ServerStats

	// received is the last mqrpc-received value formatted: the replies
	// of one millisecond share it, so that the property costs no
	// allocation per call under load.
	received atomic.Pointer[unixMilliText]
}

// ServerStats counts requests a server did not run, for operators.
type ServerStats struct {
	Expired    atomic.Uint64 // deadline had passed when the request was taken
	Duplicates atomic.Uint64 // call id already taken while its deadline lives
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
	s.sem = make(chan struct{}, max(s.opts.maxConcurrency, 1))
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s
}

// Stats returns the server's counters.
func (s *Server) Stats() *ServerStats { return &s.stats }

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
	s.serve(msg)
	return nil
}

// request is a decoded request envelope.
type request struct {
	id       string
	method   string
	codec    codec.Codec
	deadline time.Time
	received time.Time // when the server took the request
	md       Metadata
}

// serve runs one request and replies to it. Every failure it can see is
// replied with a status; nothing is returned to the transport to retry.
func (s *Server) serve(msg *Message) {
	now := time.Now()
	req, m, perr := s.parse(msg, now)
	if !now.Before(req.deadline) {
		s.stats.Expired.Add(1)
		return // the caller has given up; do not run it
	}
	if req.id != "" && !s.dedup.first(req.id, req.deadline, now) {
		s.stats.Duplicates.Add(1)
		return
	}
	if perr != nil {
		s.reply(new(Message), msg, req, nil, perr, nil)
		return
	}
	args := m.desc.NewArgs()
	if err := s.decodeArgs(req.codec, msg.Body, args, req.method); err != nil {
		s.reply(new(Message), msg, req, nil, err, nil)
		return
	}

	ctx := &handlerContext{parent: s.ctx, deadline: req.deadline, md: req.md, rec: callRecord{info: CallInfo{
		ID:              req.id,
		Method:          req.method,
		Topic:           msg.Topic,
		RequestSent:     msg.SentAt,
		RequestStored:   msg.StoredAt,
		RequestReceived: now,
	}}}
	results, err := s.run(ctx, m, args)
	ctx.release()
	if m.desc.OneWay {
		if err != nil {
			s.opts.logger.Warn("mqrpc: one-way call failed", "method", req.method, "call_id", req.id, "err", err)
		}
		return
	}
	s.reply(&ctx.reply, msg, req, results, err, ctx.trailer)
}

// parse reads the request envelope. The returned request is usable for a
// reply even when err is set.
func (s *Server) parse(msg *Message, now time.Time) (request, *serverMethod, *Error) {
	p := msg.Properties
	req := request{id: p[PropCorrelationID], method: p[PropMethod], codec: codec.Msgpack, received: now, md: takeMetadata(p, MetadataPrefix)}
	if req.id == "" {
		req.id = msg.Key
	}
	// A request without a deadline (from a plain RocketMQ client that set
	// no TTL either, which the RocketMQ transport would have turned into
	// one) gets the default timeout, so that the handler and dedup memory
	// are bounded.
	req.deadline = now.Add(DefaultTimeout)
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
		req.method = FullMethodName(s.byTopic[msg.Topic], msg.Tag)
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
			s.opts.logger.Error("mqrpc: handler panic", "method", m.info.FullMethod, "panic", r, "stack", string(debug.Stack()))
			results, err = nil, Errorf(Internal, "handler panic: %v", r)
		}
	}()
	if s.intercept == nil {
		return m.call(ctx, args)
	}
	return s.intercept(ctx, args, &m.info, m.call)
}

// reply encodes the reply to msg into out and sends it.
func (s *Server) reply(out *Message, msg *Message, req request, results any, err error, trailer Metadata) {
	props := make(map[string]string, 5+len(trailer))
	props[PropCorrelationID] = req.id
	props[PropReceived] = s.unixMilli(req.received)
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
	if err := s.transport.Reply(s.ctx, msg, out); err != nil {
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
