package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/mqrpc/mqrpc/runtime"
	"github.com/mqrpc/mqrpc/runtime/rocketmq"
)

// listedService is a service as list shows it: its description, and what
// the brokers know of its servers.
type listedService struct {
	runtime.ServiceDescription
	topicHealth
}

// topicHealth is the queue-side view of a topic's server group.
type topicHealth struct {
	// Instances are the servers connected to the brokers in the group.
	Instances []rocketmq.Consumer `json:"instances"`
	// Backlog counts the requests stored and not yet taken by a server.
	Backlog int64 `json:"backlog"`
	// Oldest is when the oldest of them was stored, and OldestAgeMS how
	// long it has waited, in milliseconds; both absent with no backlog.
	Oldest      *time.Time `json:"oldest_waiting,omitempty"`
	OldestAgeMS *int64     `json:"oldest_waiting_age_ms,omitempty"`
}

func healthOf(h rocketmq.ServiceHealth, now time.Time) topicHealth {
	t := topicHealth{Instances: h.Instances, Backlog: h.Backlog.Messages}
	if t.Instances == nil {
		t.Instances = []rocketmq.Consumer{}
	}
	if !h.Backlog.Oldest.IsZero() {
		oldest := h.Backlog.Oldest
		age := max(now.Sub(oldest), 0).Milliseconds()
		t.Oldest, t.OldestAgeMS = &oldest, &age
	}
	return t
}

// unansweredTopic is a topic whose servers did not describe themselves,
// or that has none.
type unansweredTopic struct {
	Topic string `json:"topic"`
	// Service is the service of the oldest waiting request, when one is.
	Service string `json:"service,omitempty"`
	topicHealth
}

// splitLive returns the topics with a live server instance and the others.
func splitLive(health []rocketmq.ServiceHealth) (live, idle []string) {
	for _, h := range health {
		if len(h.Instances) > 0 {
			live = append(live, h.Topic)
		} else {
			idle = append(idle, h.Topic)
		}
	}
	return live, idle
}

// serviceOf returns the service of a full method name, /pkg.Service/Name.
func serviceOf(method string) string {
	if s, _, ok := strings.Cut(strings.TrimPrefix(method, "/"), "/"); ok {
		return s
	}
	return ""
}

// printList writes list's answer: every service that answered, with its
// instances and backlog; then the topics whose servers did not answer but
// that have instances or waiting requests (a service that is down with
// work piling up); the others are only counted, on stderr.
func printList(e *env, services []runtime.ServiceDescription, silent []string, health []rocketmq.ServiceHealth, timeout time.Duration, verbose bool) int {
	now := time.Now()
	byTopic := map[string]rocketmq.ServiceHealth{}
	for _, h := range health {
		byTopic[h.Topic] = h
	}
	listed := make([]listedService, 0, len(services))
	for _, s := range services {
		listed = append(listed, listedService{s, healthOf(byTopic[s.Topic], now)})
	}
	var waiting []unansweredTopic
	var quiet []string
	slices.Sort(silent)
	for _, t := range silent {
		h := healthOf(byTopic[t], now)
		if len(h.Instances) > 0 || h.Backlog > 0 {
			waiting = append(waiting, unansweredTopic{t, serviceOf(byTopic[t].Backlog.OldestMethod), h})
		} else {
			quiet = append(quiet, t)
		}
	}
	if e.output == "json" {
		if silent == nil {
			silent = []string{}
		}
		if waiting == nil {
			waiting = []unansweredTopic{}
		}
		e.printJSON(map[string]any{"services": listed, "silent_topics": silent, "unanswered": waiting})
		return exitOK
	}
	for _, s := range listed {
		fmt.Fprintf(e.stdout, "%-40s topic %s, %d methods, %s\n", s.Name, s.Topic, len(s.Methods), s.summary())
	}
	for _, t := range waiting {
		name := t.Service
		if name == "" {
			name = "(service not known)"
		}
		state := "no server, " + t.backlog()
		if len(t.Instances) > 0 {
			state = fmt.Sprintf("no answer within %v, %s", timeout, t.summary())
		}
		fmt.Fprintf(e.stdout, "%-40s topic %s, %s\n", name, t.Topic, state)
	}
	if verbose {
		for _, s := range listed {
			for _, in := range s.Instances {
				fmt.Fprintf(e.stdout, "  %s instance %s at %s\n", s.Name, in.ClientID, in.Addr)
			}
		}
	}
	switch {
	case len(quiet) > 0 && verbose:
		fmt.Fprintf(e.stderr, "no server and nothing waiting on %d topic(s) with a server group: %s\n", len(quiet), strings.Join(quiet, ", "))
	case len(quiet) > 0:
		fmt.Fprintf(e.stderr, "no server and nothing waiting on %d other topic(s) with a server group (-v names them)\n", len(quiet))
	}
	return exitOK
}

// summary is "2 instances, backlog 0" or "1 instance, backlog 3 (oldest
// waiting 1m30s)".
func (h topicHealth) summary() string {
	noun := "instances"
	if len(h.Instances) == 1 {
		noun = "instance"
	}
	return fmt.Sprintf("%d %s, %s", len(h.Instances), noun, h.backlog())
}

// backlog is "backlog 0" or "backlog 3 (oldest waiting 1m30s)".
func (h topicHealth) backlog() string {
	s := fmt.Sprintf("backlog %d", h.Backlog)
	if h.OldestAgeMS != nil {
		s += fmt.Sprintf(" (oldest waiting %s)", age(time.Duration(*h.OldestAgeMS)*time.Millisecond))
	}
	return s
}

// age is d rounded for a person: to the millisecond under a second, else
// to the second.
func age(d time.Duration) string {
	if d < time.Second {
		return d.Round(time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}

func cmdList(ctx context.Context, e *env, args []string) int {
	fs := e.flags("[flags]")
	timeout := fs.Duration("timeout", 3*time.Second, "how long to wait for each topic's server to answer")
	verbose := fs.Bool("v", false, "name each service's instances and the topics whose servers did not answer")
	if code, ok := e.parse(args); !ok {
		return code
	}
	if fs.NArg() != 0 {
		fs.Usage()
		return exitUsage
	}
	store, err := rocketmq.OpenStore(e.config())
	if err != nil {
		return e.fail(exitUnreachable, "%v", err)
	}
	defer store.Close()
	topics, err := store.ServiceTopics(ctx)
	if err != nil {
		return e.fail(exitUnreachable, "%v", err)
	}
	health, err := store.Health(ctx, topics)
	if err != nil {
		return e.fail(exitUnreachable, "%v", err)
	}
	c, _, closeFn, err := e.client()
	if err != nil {
		return e.fail(exitUnreachable, "%v", err)
	}
	defer closeFn()

	// Only topics with a live server are asked: a describe request to the
	// others would wait in their queues and grow the backlog it reports.
	live, idle := splitLive(health)
	services, silent := describeTopics(ctx, c, live, *timeout)
	return printList(e, services, append(silent, idle...), health, *timeout, *verbose)
}

// describeTopics asks the servers of every topic at once for their
// description, each bounded by timeout, and returns the services they
// serve, sorted by name, and the topics whose servers did not answer (all
// of them may be down).
func describeTopics(ctx context.Context, c *runtime.Client, topics []string, timeout time.Duration) (services []runtime.ServiceDescription, silent []string) {
	type answer struct {
		topic string
		d     *runtime.Description
		err   error
	}
	answers := make([]answer, len(topics))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 128)
	for i, t := range topics {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			d, err := runtime.DescribeTopic(ctx, c, t, runtime.WithTimeout(timeout))
			answers[i] = answer{t, d, err}
		})
	}
	wg.Wait()
	for _, a := range answers {
		if a.err != nil {
			silent = append(silent, a.topic)
			continue
		}
		for _, s := range a.d.Services {
			if s.Topic == a.topic {
				services = append(services, s)
			}
		}
	}
	slices.SortFunc(services, func(a, b runtime.ServiceDescription) int { return strings.Compare(a.Name, b.Name) })
	return services, silent
}
