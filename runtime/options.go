package runtime

import (
	"log/slog"
	"time"

	"github.com/mqrpc/mqrpc/codec"
)

// Defaults that apply when an option is not given.
const (
	// DefaultTimeout bounds a call whose context has no deadline and that
	// has no WithTimeout, because a request without a deadline could wait
	// in a queue forever.
	DefaultTimeout = 30 * time.Second
	// DefaultMaxMessageSize is RocketMQ's default limit on a message body.
	DefaultMaxMessageSize = 4 << 20
	// DefaultMaxPending bounds the calls a client waits on at once.
	DefaultMaxPending = 100_000
	// DefaultMaxConcurrency bounds the handlers a server runs at once.
	DefaultMaxConcurrency = 64
	// DefaultDedupSize bounds how many call ids a server remembers to
	// suppress redelivered requests.
	DefaultDedupSize = 100_000
)

// CallOption configures one call, or every call of a generated client when
// given to its constructor.
type CallOption func(*callOptions)

type callOptions struct {
	timeout time.Duration
	codec   codec.Codec
	topic   string
	trailer *Metadata
	keys    []string
	// orderKey makes the call ordered; see WithOrderKey.
	orderKey string
	// expect ends a fan-out call at that many replies; see WithExpect.
	expect    int
	expectSet bool
}

// WithTimeout bounds the call to d from its start. When ctx has an earlier
// deadline, that one holds.
func WithTimeout(d time.Duration) CallOption {
	return func(o *callOptions) { o.timeout = d }
}

// WithCodec encodes the call's arguments with c. The server must know c.
func WithCodec(c codec.Codec) CallOption {
	return func(o *callOptions) { o.codec = c }
}

// WithTopic sends the call to topic instead of the service's default topic
// (see TopicFor). The server must be registered with the same topic.
func WithTopic(topic string) CallOption {
	return func(o *callOptions) { o.topic = topic }
}

// WithKeys stores the call's request in the broker under each of keys as
// well as its call id, so that operators find it by a business key (an
// order number, a user id) with `mqrpc find KEY`. A key must not be empty
// or contain white space, which RocketMQ separates keys with.
func WithKeys(keys ...string) CallOption {
	return func(o *callOptions) { o.keys = append(o.keys[:len(o.keys):len(o.keys)], keys...) }
}

// Trailer stores the reply's trailing metadata in md when the call ends.
func Trailer(md *Metadata) CallOption {
	return func(o *callOptions) { o.trailer = md }
}

// ClientOption configures a Client.
type ClientOption interface{ applyClient(*clientOptions) }

// ServerOption configures a Server.
type ServerOption interface{ applyServer(*serverOptions) }

// Option configures a Client or a Server alike.
type Option interface {
	ClientOption
	ServerOption
}

type clientOptions struct {
	callDefaults   []CallOption
	interceptors   []UnaryClientInterceptor
	maxMessageSize int
	maxPending     int
	logger         *slog.Logger
}

type serverOptions struct {
	interceptors   []UnaryServerInterceptor
	maxMessageSize int
	maxConcurrency int
	dedupSize      int
	dedupStore     DedupStore
	codecs         []codec.Codec
	decodeLimits   codec.Limits
	panicDetails   bool
	topics         map[string]string
	logger         *slog.Logger
	ordered        bool   // serve ordered calls; see WithOrderedCalls
	fanout         bool   // serve fan-out calls; see WithFanoutCalls
	instance       string // see WithInstanceID
}

type clientOptionFunc func(*clientOptions)

func (f clientOptionFunc) applyClient(o *clientOptions) { f(o) }

type serverOptionFunc func(*serverOptions)

func (f serverOptionFunc) applyServer(o *serverOptions) { f(o) }

type option struct {
	client clientOptionFunc
	server serverOptionFunc
}

func (o option) applyClient(c *clientOptions) { o.client(c) }
func (o option) applyServer(s *serverOptions) { o.server(s) }

// WithCallOptions applies opts to every call the client makes, before the
// options given to the call itself.
func WithCallOptions(opts ...CallOption) ClientOption {
	return clientOptionFunc(func(o *clientOptions) { o.callDefaults = append(o.callDefaults, opts...) })
}

// WithClientInterceptors adds interceptors around every call, the first
// outermost.
func WithClientInterceptors(ics ...UnaryClientInterceptor) ClientOption {
	return clientOptionFunc(func(o *clientOptions) { o.interceptors = append(o.interceptors, ics...) })
}

// WithMaxPending bounds how many calls a client waits on at once; a call
// beyond it fails with ResourceExhausted.
func WithMaxPending(n int) ClientOption {
	return clientOptionFunc(func(o *clientOptions) { o.maxPending = n })
}

// WithServerInterceptors adds interceptors around every handler, the first
// outermost.
func WithServerInterceptors(ics ...UnaryServerInterceptor) ServerOption {
	return serverOptionFunc(func(o *serverOptions) { o.interceptors = append(o.interceptors, ics...) })
}

// WithMaxConcurrency bounds how many handlers a server runs at once; further
// requests wait in the queue.
func WithMaxConcurrency(n int) ServerOption {
	return serverOptionFunc(func(o *serverOptions) { o.maxConcurrency = n })
}

// WithDedupSize bounds how many call ids the server remembers to run a
// redelivered request only once.
func WithDedupSize(n int) ServerOption {
	return serverOptionFunc(func(o *serverOptions) { o.dedupSize = n })
}

// WithDedupStore has the server claim each call id in store before it runs
// the handler, and finish it after, instead of keeping call ids only in its
// own memory (which it still does, in front of store). With a store that
// the servers of a group share, such as runtime/redisdedup, a request the
// queue delivers again after a server died, or to another server after a
// rebalance, runs at most once while its deadline lives; a request whose
// id is claimed and never finished is not run but dead-lettered (see
// ErrDeadLetter). When store fails to claim, the server does not run the
// handler and answers Unavailable with the store's error; when it fails to
// finish, the server logs it, and a redelivery of that call is
// dead-lettered.
func WithDedupStore(store DedupStore) ServerOption {
	return serverOptionFunc(func(o *serverOptions) { o.dedupStore = store })
}

// WithCodecs lets the server answer requests encoded with these codecs, in
// addition to msgpack and proto.
func WithCodecs(codecs ...codec.Codec) ServerOption {
	return serverOptionFunc(func(o *serverOptions) { o.codecs = append(o.codecs, codecs...) })
}

// WithPanicDetails has the server tell a caller the value a handler
// panicked with, in the Internal error's message. By default the caller
// gets only the call id, which the server logs with the panic and its
// stack: a panic's value can hold anything the handler had at hand.
func WithPanicDetails() ServerOption {
	return serverOptionFunc(func(o *serverOptions) { o.panicDetails = true })
}

// WithDecodeLimits bounds what decoding one request body may cost: how
// deeply its values nest and how much decoding it may allocate per byte of
// the body (see codec.Limits; zero fields keep the defaults). A body over
// them is answered InvalidArgument, or ResourceExhausted for allocation,
// without running the handler.
func WithDecodeLimits(l codec.Limits) ServerOption {
	return serverOptionFunc(func(o *serverOptions) { o.decodeLimits = l })
}

// WithServiceTopic serves service on topic instead of TopicFor(service).
func WithServiceTopic(service, topic string) ServerOption {
	return serverOptionFunc(func(o *serverOptions) {
		if o.topics == nil {
			o.topics = make(map[string]string)
		}
		o.topics[service] = topic
	})
}

// WithMaxMessageSize bounds the size of a message body the client or server
// sends; a larger one fails with ResourceExhausted before it is sent. A
// server also refuses a request body over it with ResourceExhausted,
// without running the handler.
func WithMaxMessageSize(n int) Option {
	return option{
		client: func(o *clientOptions) { o.maxMessageSize = n },
		server: func(o *serverOptions) { o.maxMessageSize = n },
	}
}

// WithLogger sets where the client or server logs what it cannot return to
// a caller, such as dropped replies. The default discards, except a
// handler's panic, which a server without a logger logs to slog.Default().
func WithLogger(l *slog.Logger) Option {
	return option{
		client: func(o *clientOptions) { o.logger = l },
		server: func(o *serverOptions) { o.logger = l },
	}
}

var discardLogger = slog.New(slog.DiscardHandler)
