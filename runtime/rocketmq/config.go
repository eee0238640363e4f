package rocketmq

import (
	"errors"
	"log/slog"
	"time"

	"github.com/mqrpc/mqrpc/runtime"
)

// Config configures a Transport. Only NameServers is required.
type Config struct {
	// NameServers are the name server addresses, "host:port".
	NameServers []string
	// Cluster is the broker cluster whose reply topic, <Cluster>_REPLY_TOPIC,
	// carries replies. Default "DefaultCluster".
	Cluster string
	// Group is the producer group, which brokers use to find this client
	// when they push a reply. Default "mqrpc_client".
	Group string
	// AccessKey and SecretKey sign requests for brokers with ACL enabled.
	AccessKey, SecretKey string
	// ConsumeGoroutines bounds the handler calls each subscription runs at
	// once. Default 64, the runtime server's default concurrency.
	ConsumeGoroutines int
	// MaxRedeliveries bounds how many times the broker delivers again a
	// request that a server handed back (a server that was stopping);
	// handed back once more, it goes to the group's dead-letter queue,
	// %DLQ%<group>. Default 3: a request is handed back only by a server
	// that stops, and one that four servers in a row could not take is
	// more likely the cause than the victim. A request the server refuses
	// with runtime.ErrDeadLetter goes there at once. RocketMQ does not
	// count a redelivery after a consumer died without acknowledging; a
	// shared runtime.DedupStore catches those.
	MaxRedeliveries int
	// TopicQueues is the number of queues of a request topic the transport
	// creates. Default 4.
	TopicQueues int
	// MaxMessageSize bounds what a message body flagged compressed may
	// inflate to, in requests a server consumes and replies a client
	// receives; the transport inflates no further. A request past it
	// reaches the server refused (runtime.Message.Err), which answers
	// ResourceExhausted without running a handler; a reply past it fails
	// its call with ResourceExhausted. Default
	// runtime.DefaultMaxMessageSize, RocketMQ's default limit on a body.
	MaxMessageSize int
	// NoCreateTopics stops Subscribe from creating request topics on the
	// cluster's brokers; set it where topics are provisioned by operators.
	NoCreateTopics bool
	// SendTimeout bounds one attempt to store a message. Default 3 s.
	SendTimeout time.Duration
	// SendGoroutines bounds the sends (requests, one-way calls and
	// replies) the transport runs at once; more wait for a free one.
	// Default 64.
	SendGoroutines int
	// HeartbeatInterval is how often the client asks the name server for
	// the brokers of the cluster and re-registers with every one of them,
	// so that a broker that restarted, or joined the cluster after the
	// client started, can push replies to it within that time. Default 5 s.
	HeartbeatInterval time.Duration
	// Logger receives the transport's own warnings. Default: discarded.
	// The library's log goes to SetLogger's logger.
	Logger *slog.Logger
}

func (c *Config) defaults() error {
	if len(c.NameServers) == 0 {
		return errors.New("rocketmq: Config.NameServers is empty")
	}
	if c.Cluster == "" {
		c.Cluster = "DefaultCluster"
	}
	if c.Group == "" {
		c.Group = "mqrpc_client"
	}
	if c.ConsumeGoroutines == 0 {
		c.ConsumeGoroutines = runtime.DefaultMaxConcurrency
	}
	if c.TopicQueues == 0 {
		c.TopicQueues = 4
	}
	if c.MaxMessageSize == 0 {
		c.MaxMessageSize = runtime.DefaultMaxMessageSize
	}
	if c.MaxRedeliveries == 0 {
		c.MaxRedeliveries = 3
	}
	if c.SendTimeout == 0 {
		c.SendTimeout = 3 * time.Second
	}
	if c.SendGoroutines == 0 {
		c.SendGoroutines = 64
	}
	if c.HeartbeatInterval == 0 {
		c.HeartbeatInterval = 5 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}
