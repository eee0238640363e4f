package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mqrpc/mqrpc/runtime"
	"github.com/mqrpc/mqrpc/runtime/rocketmq"
)

// statusNone is the -status value of calls without a stored reply: one-way
// calls, calls no server answered, and replies the broker did not store.
const statusNone = "none"

// replayFilter selects the stored calls replay considers; empty fields
// select every call.
type replayFilter struct {
	method string // a method name, "service/Method" or "/service/Method"
	key    string // one of the request's keys (a business key or the call id)
	status string // a status name (runtime.Code.String) or statusNone
}

func (f *replayFilter) any() bool { return *f != replayFilter{} }

// parseStatus reads a -status value: a status name as replies and 'mqrpc
// call' spell it (ok, invalid_argument), its number, or none.
func parseStatus(s string) (string, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == statusNone {
		return s, nil
	}
	if n, err := strconv.ParseUint(s, 10, 32); err == nil && n <= uint64(runtime.Unauthenticated) {
		return runtime.Code(n).String(), nil
	}
	names := []string{statusNone}
	for c := runtime.OK; c <= runtime.Unauthenticated; c++ {
		if c.String() == s {
			return s, nil
		}
		names = append(names, c.String())
	}
	return "", fmt.Errorf("unknown status %q; want one of %s", s, strings.Join(names, ", "))
}

// matchRequest reports whether the stored request of r passes the -method
// and -key filters.
func (f *replayFilter) matchRequest(r *replayed) bool {
	if f.method != "" && !methodMatches(f.method, r.Method) {
		return false
	}
	if f.key != "" && r.CallID != f.key && !slices.Contains(strings.Fields(r.req.Key), f.key) {
		return false
	}
	return true
}

// methodMatches reports whether name names the full method full: as the
// full method itself, without its leading slash, or as the method's name
// alone (Add matches every service's Add).
func methodMatches(name, full string) bool {
	if full == "" {
		return false
	}
	if name == full || "/"+name == full {
		return true
	}
	_, short, ok := strings.Cut(strings.TrimPrefix(full, "/"), "/")
	return ok && name == short
}

// matchStatus reports whether r's stored reply passes the -status filter.
func (f *replayFilter) matchStatus(r *replayed) bool {
	if f.status == "" {
		return true
	}
	if r.Stored == nil {
		return f.status == statusNone
	}
	return r.Stored.Status == f.status
}

// Why a call is not replayed without -unsafe.
const (
	reasonNotIdempotent = "not marked idempotent"
	reasonUndescribed   = "no server described its methods"
)

// replayMethods is what the servers on the replay topic say of the methods
// replay sends: which are safe to repeat, and their types for -diff.
type replayMethods struct {
	topic    string
	err      error // why no server described its methods; nil when one did
	services map[string]*runtime.ServiceDescription
}

// describeReplayTopic asks a server on topic for the description of its
// services. A topic no server answers on gives replayMethods with err set:
// no method is then known to be safe to repeat.
func describeReplayTopic(ctx context.Context, store *rocketmq.Store, c *runtime.Client, capt *capture, tap *replyTap, topic string, timeout time.Duration) *replayMethods {
	rm := &replayMethods{topic: topic, services: map[string]*runtime.ServiceDescription{}}
	// A topic without a server group would keep the question waiting
	// for its whole deadline.
	if topics, err := store.ServiceTopics(ctx); err == nil && !slices.Contains(topics, topic) {
		rm.err = errors.New("the topic has no server group")
		return rm
	}
	d, err := runtime.DescribeTopic(ctx, c, topic, runtime.WithTimeout(timeout))
	// The tap keeps every reply it sees for replay to compare; the
	// description's is not one of those.
	tap.take(capt.lastID())
	if err != nil {
		rm.err = err
		return rm
	}
	for i := range d.Services {
		rm.services[d.Services[i].Name] = &d.Services[i]
	}
	return rm
}

// method returns the description of the full method and of its service,
// or nils when the servers did not describe it.
func (rm *replayMethods) method(full string) (*runtime.ServiceDescription, *runtime.MethodDescription) {
	svc, name, ok := strings.Cut(strings.TrimPrefix(full, "/"), "/")
	if !ok {
		return nil, nil
	}
	sd := rm.services[svc]
	if sd == nil {
		return nil, nil
	}
	return sd, sd.Method(name)
}

// skipReason says why r may not be replayed without -unsafe, or "" when
// its method is marked idempotent.
func (rm *replayMethods) skipReason(r *replayed) string {
	switch {
	case rm.err != nil:
		return reasonUndescribed
	case r.desc == nil || !r.desc.Idempotent:
		return reasonNotIdempotent
	}
	return ""
}

// skippedSummary describes the calls skipped as not safe to repeat, for
// the summary line: how many, why, and of which methods.
func skippedSummary(calls []*replayed, rm *replayMethods, dryRun bool) string {
	n := 0
	counts := map[string]int{}
	var methods []string
	for _, c := range calls {
		if c.SkipReason == "" {
			continue
		}
		n++
		m := c.Method
		if m == "" {
			m = "(tag) " + c.req.Tag
		}
		if counts[m] == 0 {
			methods = append(methods, m)
		}
		counts[m]++
	}
	if n == 0 {
		return ""
	}
	var parts []string
	for _, m := range methods {
		parts = append(parts, fmt.Sprintf("%s (%d)", m, counts[m]))
	}
	why := reasonNotIdempotent
	if rm != nil && rm.err != nil {
		why = "of methods not known to be idempotent (no server on topic " + rm.topic + " described its methods)"
	}
	verb := "skipped"
	if dryRun {
		verb = "would skip"
	}
	return fmt.Sprintf("%s %d %s %s: %s; -unsafe replays them", verb, n, plural(n, "call", "calls"), why, strings.Join(parts, ", "))
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
