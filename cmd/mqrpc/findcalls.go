package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mqrpc/mqrpc/runtime"
	"github.com/mqrpc/mqrpc/runtime/rocketmq"
)

// callFilter selects stored calls by method and status.
type callFilter struct {
	method string // a full method name (/pkg.Service/Method) or a method name
	status string // "", a code name, "failed", "none", "no_reply" or "one_way"
}

func (f callFilter) empty() bool { return f.method == "" && f.status == "" }

// Statuses -status takes besides the code names.
const (
	statusFailed  = "failed"   // any status but ok
	statusNoReply = "no_reply" // a request with no stored reply
	statusOneWay  = "one_way"  // a call that expects no reply
)

// checkStatus returns an error when s is not a status -status takes.
func checkStatus(s string) error {
	switch s {
	case "", statusFailed, statusNone, statusNoReply, statusOneWay:
		return nil
	}
	for c := runtime.OK; c <= runtime.Unauthenticated; c++ {
		if c.String() == s {
			return nil
		}
	}
	return fmt.Errorf("unknown status %q: give a code name (ok, invalid_argument, internal, ...), %s, %s, %s or %s",
		s, statusFailed, statusNone, statusNoReply, statusOneWay)
}

// methodMatches reports whether m is a request of f's method. Without a
// method, every method but mqrpc.Describe matches: the command describes a
// service before each call, and those calls would bury the others.
func (f callFilter) methodMatches(m *rocketmq.StoredMessage) bool {
	full := m.Properties[runtime.PropMethod]
	if f.method == "" {
		return !strings.HasSuffix(full, "/"+runtime.DescribeMethod)
	}
	return full == f.method || strings.HasSuffix(full, "/"+f.method)
}

func (f callFilter) statusMatches(c *callSummary) bool {
	switch f.status {
	case "":
		return true
	case statusFailed:
		return c.Code != nil && *c.Code != int(runtime.OK)
	case statusNone:
		return c.Code == nil
	case statusNoReply, statusOneWay:
		return c.Status == f.status
	}
	return c.Code != nil && c.Status == f.status
}

// callSummary is one stored call as a line of find's list.
type callSummary struct {
	// Time is when the client sent the request, by its clock.
	Time   time.Time `json:"time"`
	CallID string    `json:"call_id"`
	Method string    `json:"method"`
	Topic  string    `json:"topic"`
	Keys   []string  `json:"keys"`
	// Status is the reply's code name, or no_reply or one_way; Code is
	// set when a reply is stored.
	Status  string `json:"status"`
	Code    *int   `json:"code,omitempty"`
	Message string `json:"message,omitempty"`
	// LatencyMS is from the request sent to its reply stored (when the
	// broker passed it on), in milliseconds, when a reply is stored.
	LatencyMS *float64 `json:"latency_ms,omitempty"`
}

// calls is find's answer when it lists calls.
type calls struct {
	Key     string         `json:"key,omitempty"`
	Topics  []string       `json:"topics"`
	Method  string         `json:"method,omitempty"`
	Status  string         `json:"status,omitempty"`
	Since   time.Time      `json:"since"`
	Until   time.Time      `json:"until"`
	Count   int            `json:"count"`
	Calls   []*callSummary `json:"calls"` // newest first
	Scanned bool           `json:"scanned"`
}

// keyCalls returns the requests stored in [from, to] on topics under key:
// the one whose call id is key (byID), or else every one with key among
// its keys, found by the brokers' index of keys. A topic whose brokers
// cannot answer a key query completely (more hits than one query returns)
// is read instead, as every topic is with scan; scanned says whether any
// was. A topic that cannot be read is skipped and its error returned in
// unread when there are several topics; with one, its error is err.
func keyCalls(ctx context.Context, store *rocketmq.Store, topics []string, key string, from, to time.Time, scan bool) (byID *rocketmq.StoredMessage, all []*rocketmq.StoredMessage, scanned bool, unread []error, err error) {
	for _, t := range topics {
		var hits []*rocketmq.StoredMessage
		var terr error
		if !scan {
			hits, terr = store.QueryKey(ctx, t, key, from, to)
		}
		if scan || errors.Is(terr, rocketmq.ErrKeyQueryIncomplete) {
			scanned = true
			hits = nil
			terr = store.Scan(ctx, t, from, to, func(m *rocketmq.StoredMessage) error {
				if callID(m) == key || slices.Contains(strings.Fields(m.Key), key) {
					hits = append(hits, m)
				}
				return nil
			})
		}
		switch {
		case terr != nil && (len(topics) == 1 || ctx.Err() != nil):
			return nil, nil, scanned, nil, terr
		case terr != nil:
			unread = append(unread, terr)
			continue
		}
		for _, m := range hits {
			if callID(m) == key {
				return m, nil, scanned, unread, nil
			}
		}
		all = append(all, hits...)
	}
	return nil, all, scanned, unread, nil
}

// searchRequests returns the requests stored in [from, to] on topics
// whose method matches f.
func searchRequests(ctx context.Context, store *rocketmq.Store, topics []string, f callFilter, from, to time.Time) (reqs []*rocketmq.StoredMessage, unread []error, err error) {
	for _, t := range topics {
		err := store.Scan(ctx, t, from, to, func(m *rocketmq.StoredMessage) error {
			if f.methodMatches(m) {
				reqs = append(reqs, m)
			}
			return nil
		})
		switch {
		case err != nil && (len(topics) == 1 || ctx.Err() != nil):
			return nil, nil, err
		case err != nil:
			unread = append(unread, err)
		}
	}
	return reqs, unread, nil
}

// summarize looks up the reply of each request, by the index of keys of
// the reply topic (a reply's key is its call id), and returns the calls
// whose status matches f, newest first.
func summarize(ctx context.Context, store *rocketmq.Store, reqs []*rocketmq.StoredMessage, f callFilter, now time.Time) ([]*callSummary, error) {
	out := make([]*callSummary, len(reqs))
	errs := make([]error, len(reqs))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i, req := range reqs {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			out[i], errs[i] = summarizeCall(ctx, store, req, now)
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	out = slices.DeleteFunc(out, func(c *callSummary) bool { return !f.statusMatches(c) })
	slices.SortStableFunc(out, func(a, b *callSummary) int {
		if c := b.Time.Compare(a.Time); c != 0 {
			return c
		}
		return strings.Compare(b.CallID, a.CallID)
	})
	return out, nil
}

func summarizeCall(ctx context.Context, store *rocketmq.Store, req *rocketmq.StoredMessage, now time.Time) (*callSummary, error) {
	id := callID(req)
	c := &callSummary{
		Time:   req.Born,
		CallID: id,
		Method: req.Properties[runtime.PropMethod],
		Topic:  req.Topic,
		Keys:   strings.Fields(req.Key),
		Status: statusNoReply,
	}
	if c.Method == "" {
		c.Method = "(tag) " + req.Tag
	}
	if req.Properties["REPLY_TO_CLIENT"] == "" {
		c.Status = statusOneWay
		return c, nil
	}
	// As in find of one call: the reply is stored after its request, by
	// the request's deadline, and the first one sent is the call's.
	until := now.Add(time.Minute)
	if ms, err := strconv.ParseInt(req.Properties[runtime.PropDeadline], 10, 64); err == nil {
		until = time.UnixMilli(ms).Add(time.Minute)
	}
	replies, err := store.QueryKey(ctx, store.ReplyTopic(), id, req.Stored.Add(-time.Second), until)
	if errors.Is(err, rocketmq.ErrKeyQueryIncomplete) {
		replies, err = nil, nil // a call id names one call: never that many replies
	}
	if err != nil {
		return nil, err
	}
	var reply *rocketmq.StoredMessage
	for _, m := range replies {
		if m.Properties[runtime.PropCorrelationID] != id {
			continue
		}
		if reply == nil || m.Born.Before(reply.Born) || (m.Born.Equal(reply.Born) && m.Stored.Before(reply.Stored)) {
			reply = m
		}
	}
	if reply == nil {
		return c, nil
	}
	code := 0
	if s, ok := reply.Properties[runtime.PropStatus]; ok && s != "0" {
		code, _ = strconv.Atoi(s)
		c.Message = reply.Properties[runtime.PropMessage]
	}
	c.Code, c.Status = &code, runtime.Code(code).String()
	ms := millis(reply.Stored.Sub(req.Born))
	c.LatencyMS = &ms
	return c, nil
}

// printCalls writes the calls as text, one line each: time, call id,
// method, status, latency.
func printCalls(e *env, cs *calls, what string) {
	w := e.stdout
	noun := "calls"
	if cs.Count == 1 {
		noun = "call"
	}
	fmt.Fprintf(w, "%d %s %s, newest first\n", cs.Count, noun, what)
	mw, sw := 0, 0
	for _, c := range cs.Calls {
		mw, sw = max(mw, len(c.Method)), max(sw, len(c.Status))
	}
	for _, c := range cs.Calls {
		latency := "-"
		if c.LatencyMS != nil {
			latency = (time.Duration(*c.LatencyMS * float64(time.Millisecond))).Round(time.Millisecond).String()
		}
		line := fmt.Sprintf("  %s  %s  %-*s  %-*s  %s", c.Time.Format("2006-01-02T15:04:05.000Z07:00"), c.CallID, mw, c.Method, sw, c.Status, latency)
		if c.Message != "" {
			line += "  " + oneLine(c.Message, 60)
		}
		fmt.Fprintln(w, line)
	}
	if cs.Count > 0 {
		fmt.Fprintln(w, "(mqrpc find CALL_ID shows a call's arguments, reply and time line)")
	}
}

// oneLine is s on one line, cut to n runes.
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

// listCalls looks up the replies of reqs and writes the calls that match
// filter, newest first, with their count.
func listCalls(ctx context.Context, e *env, store *rocketmq.Store, cs *calls, reqs []*rocketmq.StoredMessage, unread []error, filter callFilter, where string, now time.Time) int {
	if len(reqs) == 0 && len(unread) > 0 {
		return e.fail(exitUnreachable, "no request found, and these topics could not be read: %v", errors.Join(unread...))
	}
	var err error
	if cs.Calls, err = summarize(ctx, store, reqs, filter, now); err != nil {
		return e.fail(exitUnreachable, "%v", err)
	}
	cs.Count = len(cs.Calls)
	if len(unread) > 0 {
		fmt.Fprintf(e.stderr, "mqrpc: some topics could not be read: %v\n", errors.Join(unread...))
	}
	if e.output == "json" {
		e.printJSON(cs)
		return exitOK
	}
	what := "on " + where
	if cs.Key != "" {
		what = fmt.Sprintf("under key %s on %s", cs.Key, where)
	}
	var only []string
	if cs.Method != "" {
		only = append(only, "method "+cs.Method)
	}
	if cs.Status != "" {
		only = append(only, "status "+cs.Status)
	}
	if len(only) > 0 {
		what += " with " + strings.Join(only, " and ")
	}
	if cs.Count == 0 {
		what += fmt.Sprintf(" between %s and %s", cs.Since.Format(time.RFC3339), cs.Until.Format(time.RFC3339))
	}
	printCalls(e, cs, what)
	return exitOK
}
