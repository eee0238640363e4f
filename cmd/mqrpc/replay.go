package main

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mqrpc/mqrpc/codec"
	"github.com/mqrpc/mqrpc/internal/jsonargs"
	"github.com/mqrpc/mqrpc/runtime"
	"github.com/mqrpc/mqrpc/runtime/rocketmq"
)

// Outcomes of a replayed call.
const (
	outcomeSame    = "same"
	outcomeChanged = "changed"
	outcomeNoReply = "no stored reply"
	outcomeFailed  = "replay failed"
	outcomeDryRun  = "would send"
	// Calls of methods not marked idempotent, without -unsafe.
	outcomeSkipped = "skipped"
	outcomeDrySkip = "would skip"
)

// maxDiffLines bounds the changes -diff prints for one call; -o json
// lists them all.
const maxDiffLines = 20

// maxQPS bounds -qps: one call at a time cannot usefully go faster.
const maxQPS = 10000

func cmdReplay(ctx context.Context, e *env, args []string) int {
	fs := e.flags("[flags] -topic T | -service S  -since DUR|TIME  [-method M] [-key K] [-status S] [-unsafe]")
	topic := fs.String("topic", "", "request `topic` whose stored requests to replay")
	service := fs.String("service", "", "`service` whose request topic to replay")
	since := fs.String("since", "", "replay requests stored after this `time` (RFC 3339, or a duration before now); required")
	until := fs.String("until", "now", "replay requests stored before this `time`")
	to := fs.String("to", "", "send the replays to this `topic` (default: the request topic)")
	diff := fs.Bool("diff", false, "show what changed in the replies of changed calls, value by value")
	var filter replayFilter
	fs.StringVar(&filter.method, "method", "", "replay only calls of this `method`: Add, calculator.Calculator/Add or /calculator.Calculator/Add")
	fs.StringVar(&filter.key, "key", "", "replay only calls with this `key`: a business key among the request's keys, or the call id")
	status := fs.String("status", "", "replay only calls whose stored reply has this `status`: ok, invalid_argument, ... or none (no stored reply)")
	unsafe := fs.Bool("unsafe", false, "also replay calls of methods the server does not mark idempotent: they run again, writes included")
	qps := fs.Float64("qps", 100, fmt.Sprintf("send at most `N` replays a second (0 < N <= %d)", maxQPS))
	dryRun := fs.Bool("dry-run", false, "list the calls that would be replayed and those that would be skipped; send nothing")
	timeout := fs.Duration("timeout", 10*time.Second, "deadline of each replayed call")
	if code, ok := e.parse(args); !ok {
		return code
	}
	if fs.NArg() != 0 || (*topic == "") == (*service == "") || *since == "" {
		fs.Usage()
		return exitUsage
	}
	if !(*qps > 0 && *qps <= maxQPS) {
		return e.usageErr("-qps must be in (0, %d], not %v", maxQPS, *qps)
	}
	if *timeout <= 0 {
		return e.usageErr("-timeout must be positive")
	}
	if *status != "" {
		st, err := parseStatus(*status)
		if err != nil {
			return e.usageErr("-status: %v", err)
		}
		filter.status = st
	}
	if *topic == "" {
		*topic = runtime.TopicFor(*service)
	}
	if *to == "" {
		*to = *topic
	}
	now := time.Now()
	from, before, err := parseWindow(*since, *until, now)
	if err != nil {
		return e.usageErr("%v", err)
	}

	store, err := rocketmq.OpenStore(e.config())
	if err != nil {
		return e.fail(exitUnreachable, "%v", err)
	}
	defer store.Close()
	reqs, skipped, err := storedRequests(ctx, store, *topic, *service, from, before)
	if err != nil {
		return e.fail(exitUnreachable, "%v", err)
	}
	if skipped > 0 {
		fmt.Fprintf(e.stderr, "mqrpc replay: skipped %d stored message(s) that are not mqrpc calls or are describe calls\n", skipped)
	}

	var calls []*replayed
	for _, r := range reqs {
		if rc := newReplayed(r, *service); filter.matchRequest(rc) {
			calls = append(calls, rc)
		}
	}
	// The stored replies are read once for the whole window, when
	// replay compares with them or -status selects by them.
	if len(calls) > 0 && (!*dryRun || filter.status != "") {
		selected := make([]*rocketmq.StoredMessage, len(calls))
		for i, rc := range calls {
			selected[i] = rc.req
		}
		stored, err := storedReplies(ctx, store, selected, now)
		if err != nil {
			return e.fail(exitUnreachable, "%v", err)
		}
		calls = slices.DeleteFunc(calls, func(rc *replayed) bool {
			if rc.stored = stored[rc.CallID]; rc.stored != nil {
				rc.Stored = viewOf(&rc.stored.Message)
			}
			return !filter.matchStatus(rc)
		})
	}
	if filter.any() {
		fmt.Fprintf(e.stderr, "mqrpc replay: %d of %d stored calls match the filters\n", len(calls), len(reqs))
	}

	tr, err := rocketmq.New(e.config())
	if err != nil {
		return e.fail(exitUnreachable, "%v", err)
	}
	defer tr.Close()
	tap := &replyTap{Transport: tr, replies: map[string]*runtime.Message{}}
	capt := &capture{Transport: tap}
	c, err := runtime.NewClient(capt)
	if err != nil {
		return e.fail(exitUnreachable, "%v", err)
	}
	defer c.Close()

	// Only methods the servers that get the replays mark idempotent are
	// safe to send again; the rest need -unsafe.
	var methods *replayMethods
	if len(calls) > 0 {
		methods = describeReplayTopic(ctx, store, c, capt, tap, *to, *timeout)
		if methods.err != nil {
			then := "no method is known to be idempotent, so only -unsafe replays calls"
			if *unsafe {
				then = "-unsafe replays every call"
			}
			fmt.Fprintf(e.stderr, "mqrpc replay: no server on topic %s described its methods (%v): %s\n", *to, methods.err, then)
		}
	}
	var send []*replayed
	for _, rc := range calls {
		rc.svc, rc.desc = methods.method(rc.Method)
		if reason := methods.skipReason(rc); reason != "" && !*unsafe {
			rc.Outcome, rc.SkipReason = outcomeSkipped, reason
			continue
		}
		send = append(send, rc)
	}
	if *dryRun {
		return e.reportReplay(calls, methods, true, *diff)
	}

	pace := newPacer(e.clock, *qps)
	prog := newProgress(e, len(send))
	for i, rc := range send {
		if err := pace.wait(ctx); err != nil || ctx.Err() != nil {
			prog.interrupt()
			fmt.Fprintf(e.stderr, "mqrpc replay: interrupted after %d of %d calls\n", i, len(send))
			// The calls not sent are left out of the report.
			calls = slices.DeleteFunc(calls, func(rc *replayed) bool { return rc.Outcome == "" })
			break
		}
		rc.replay(ctx, c, capt, tap, *to, *timeout)
		prog.done(i + 1)
	}
	return e.reportReplay(calls, methods, false, *diff)
}

// storedRequests returns the mqrpc requests stored on topic in [from, to],
// in store order, and how many other messages it skipped: those that are
// not mqrpc requests (neither an mqrpc-method nor a tag) and describe calls.
func storedRequests(ctx context.Context, store *rocketmq.Store, topic, service string, from, to time.Time) ([]*rocketmq.StoredMessage, int, error) {
	var reqs []*rocketmq.StoredMessage
	skipped := 0
	err := store.Scan(ctx, topic, from, to, func(m *rocketmq.StoredMessage) error {
		method := m.Properties[runtime.PropMethod]
		if (method == "" && m.Tag == "") || strings.HasSuffix(method, "/"+runtime.DescribeMethod) ||
			(method == "" && m.Tag == runtime.DescribeMethod) {
			skipped++
			return nil
		}
		reqs = append(reqs, m)
		return nil
	})
	slices.SortStableFunc(reqs, func(a, b *rocketmq.StoredMessage) int {
		if c := a.Stored.Compare(b.Stored); c != 0 {
			return c
		}
		return a.Born.Compare(b.Born)
	})
	return reqs, skipped, err
}

// storedReplies scans the reply topic once for the replies of reqs, by
// correlation id. Replies are stored after their requests and before their
// deadlines; a minute's margin covers the clocks. The first stored reply
// of a call is the one its client took.
func storedReplies(ctx context.Context, store *rocketmq.Store, reqs []*rocketmq.StoredMessage, now time.Time) (map[string]*rocketmq.StoredMessage, error) {
	want := map[string]bool{}
	var first, last time.Time
	for _, r := range reqs {
		if r.Properties["REPLY_TO_CLIENT"] == "" {
			continue // one-way
		}
		want[callID(r)] = true
		end := r.Stored.Add(runtime.DefaultTimeout)
		if ms, err := strconv.ParseInt(r.Properties[runtime.PropDeadline], 10, 64); err == nil {
			end = time.UnixMilli(ms)
		}
		if first.IsZero() || r.Stored.Before(first) {
			first = r.Stored
		}
		if end.After(last) {
			last = end
		}
	}
	out := map[string]*rocketmq.StoredMessage{}
	if len(want) == 0 {
		return out, nil
	}
	// Replies stored after now belong to calls still running: they are
	// not waited for.
	if last = last.Add(time.Minute); last.After(now.Add(time.Second)) {
		last = now.Add(time.Second)
	}
	err := store.Scan(ctx, store.ReplyTopic(), first.Add(-time.Second), last, func(m *rocketmq.StoredMessage) error {
		id := m.Properties[runtime.PropCorrelationID]
		if want[id] && (out[id] == nil || m.Stored.Before(out[id].Stored)) {
			out[id] = m
		}
		return nil
	})
	return out, err
}

func callID(m *rocketmq.StoredMessage) string {
	if id := m.Properties[runtime.PropCorrelationID]; id != "" {
		return id
	}
	id, _, _ := strings.Cut(m.Key, " ")
	return id
}

// replayed is one stored call and its replay.
type replayed struct {
	CallID   string            `json:"call_id"`
	ReplayID string            `json:"replay_call_id,omitempty"`
	Method   string            `json:"method"`
	Codec    string            `json:"codec"`
	Metadata map[string]string `json:"metadata,omitempty"`
	Args     any               `json:"args"`
	OneWay   bool              `json:"one_way,omitempty"`
	Outcome  string            `json:"outcome"`
	// SkipReason says why a call was not replayed without -unsafe.
	SkipReason string     `json:"skip_reason,omitempty"`
	Error      string     `json:"error,omitempty"`
	Stored     *replyView `json:"stored_reply,omitempty"`
	Replay     *replyView `json:"replay_reply,omitempty"`
	// Changes are what -diff found changed in the reply.
	Changes []change `json:"changes,omitempty"`

	req    *rocketmq.StoredMessage
	stored *rocketmq.StoredMessage
	// svc and desc describe the call's method, as the servers on the
	// replay topic do; nil when they did not.
	svc  *runtime.ServiceDescription
	desc *runtime.MethodDescription
}

// replyView is a reply as replay compares it: status code and message,
// and the body (results, or error details).
type replyView struct {
	Status  string `json:"status"`
	Code    int    `json:"code"`
	Message string `json:"message,omitempty"`
	Results any    `json:"results,omitempty"`
	body    []byte
	codec   string
}

func newReplayed(req *rocketmq.StoredMessage, service string) *replayed {
	r := &replayed{
		CallID:   callID(req),
		Method:   req.Properties[runtime.PropMethod],
		Codec:    req.Properties[runtime.PropCodec],
		Metadata: withPrefix(req.Properties, runtime.MetadataPrefix),
		Args:     decodeBody(req.Body, req.Properties[runtime.PropCodec]),
		OneWay:   req.Properties["REPLY_TO_CLIENT"] == "",
		req:      req,
	}
	if r.Codec == "" {
		r.Codec = codec.Msgpack.Name()
	}
	if r.Method == "" && service != "" {
		r.Method = runtime.FullMethodName(service, req.Tag)
	}
	return r
}

func viewOf(m *runtime.Message) *replyView {
	v := &replyView{Status: runtime.OK.String(), body: m.Body, codec: m.Properties[runtime.PropCodec]}
	if s, ok := m.Properties[runtime.PropStatus]; ok && s != "0" {
		n, err := strconv.Atoi(s)
		if err != nil {
			n = int(runtime.Internal)
		}
		v.Code, v.Status, v.Message = n, runtime.Code(n).String(), m.Properties[runtime.PropMessage]
		return v
	}
	if len(m.Body) > 0 {
		v.Results = decodeBody(m.Body, m.Properties[runtime.PropCodec])
	}
	return v
}

func (v *replyView) equal(w *replyView) bool {
	return v.Code == w.Code && v.Message == w.Message && bytes.Equal(v.body, w.body)
}

func (v *replyView) String() string {
	if v.Code == 0 {
		return "ok " + jsonargs.Marshal(v.Results)
	}
	return fmt.Sprintf("%s: %s", v.Status, v.Message)
}

// replay sends the stored request again, unchanged but for a fresh call id
// and deadline, and compares the reply with the stored one.
func (r *replayed) replay(ctx context.Context, c *runtime.Client, capt *capture, tap *replyTap, to string, timeout time.Duration) {
	if r.Method == "" {
		r.Outcome, r.Error = outcomeFailed, "the request has no mqrpc-method; give -service to name its service"
		return
	}
	if len(r.Metadata) > 0 {
		ctx = runtime.WithOutgoingMetadata(ctx, runtime.Metadata(r.Metadata))
	}
	// The original call id among the keys lets 'mqrpc find' tell a replay
	// from the call it replays.
	opts := []runtime.CallOption{runtime.WithTopic(to), runtime.WithTimeout(timeout), runtime.WithCodec(rawCodec(r.Codec)),
		runtime.WithKeys("replay-of:" + r.CallID)}
	var err error
	if r.OneWay {
		err = c.Send(ctx, r.Method, r.req.Body, opts...)
	} else {
		var results []byte
		err = c.Invoke(ctx, r.Method, r.req.Body, &results, opts...)
	}
	r.ReplayID = capt.lastID()
	reply := tap.take(r.ReplayID)
	switch {
	case reply == nil && err != nil:
		// No server answered: the call failed in the client or the transport.
		r.Outcome, r.Error = outcomeFailed, err.Error()
	case r.OneWay || r.stored == nil:
		r.Outcome = outcomeNoReply
		if reply != nil {
			r.Replay = viewOf(reply)
		}
	default:
		r.Replay = viewOf(reply)
		r.Outcome = outcomeSame
		if !r.Replay.equal(r.Stored) {
			r.Outcome = outcomeChanged
		}
	}
}

// rawCodec passes bodies through unchanged under a codec's name: requests
// are sent with the stored body, replies kept as their bytes.
type rawCodec string

func (c rawCodec) Name() string { return string(c) }

func (c rawCodec) Marshal(v any) ([]byte, error) {
	b, ok := v.([]byte)
	if !ok {
		return nil, fmt.Errorf("raw codec: cannot marshal %T", v)
	}
	return b, nil
}

func (c rawCodec) Unmarshal(data []byte, v any) error {
	p, ok := v.(*[]byte)
	if !ok {
		return fmt.Errorf("raw codec: cannot unmarshal into %T", v)
	}
	*p = slices.Clone(data)
	return nil
}

// replyTap is a transport that keeps the replies it delivers, by call id,
// so that replay compares the reply message itself rather than what the
// client made of it.
type replyTap struct {
	runtime.Transport
	mu      sync.Mutex
	replies map[string]*runtime.Message
}

func (t *replyTap) ListenReplies(h func(*runtime.Message)) error {
	return t.Transport.ListenReplies(func(m *runtime.Message) {
		id := m.Properties[runtime.PropCorrelationID]
		t.mu.Lock()
		if _, dup := t.replies[id]; !dup {
			t.replies[id] = m
		}
		t.mu.Unlock()
		h(m)
	})
}

func (t *replyTap) take(id string) *runtime.Message {
	t.mu.Lock()
	defer t.mu.Unlock()
	m := t.replies[id]
	delete(t.replies, id)
	return m
}

// replaySummary counts the outcomes. Replayed counts the calls sent (or,
// in a dry run, that would be); Skipped those not sent because their
// methods are not marked idempotent.
type replaySummary struct {
	Replayed int  `json:"replayed"`
	Same     int  `json:"same"`
	Changed  int  `json:"changed"`
	NoReply  int  `json:"without_stored_reply"`
	Failed   int  `json:"failed"`
	Skipped  int  `json:"skipped_not_idempotent"`
	DryRun   bool `json:"dry_run,omitempty"`
}

func (e *env) reportReplay(calls []*replayed, methods *replayMethods, dryRun, diff bool) int {
	s := replaySummary{DryRun: dryRun}
	for _, c := range calls {
		switch {
		case dryRun && c.Outcome == outcomeSkipped:
			c.Outcome = outcomeDrySkip
		case dryRun:
			c.Outcome = outcomeDryRun
		}
		if c.Outcome == outcomeSkipped || c.Outcome == outcomeDrySkip {
			s.Skipped++
		} else {
			s.Replayed++
		}
		if diff && c.Outcome == outcomeChanged {
			c.Changes = replyChanges(c)
		}
		switch c.Outcome {
		case outcomeSame:
			s.Same++
		case outcomeChanged:
			s.Changed++
		case outcomeNoReply:
			s.NoReply++
		case outcomeFailed:
			s.Failed++
		}
	}
	code := exitOK
	if s.Changed > 0 || s.Failed > 0 {
		code = exitReplayDiffers
	}
	if e.output == "json" {
		if calls == nil {
			calls = []*replayed{}
		}
		e.printJSON(map[string]any{"calls": calls, "summary": s})
		return code
	}
	w := e.stdout
	for _, c := range calls {
		method := c.Method
		if method == "" {
			method = "(tag) " + c.req.Tag
		}
		line := fmt.Sprintf("%-15s %s  call %s", c.Outcome, method, c.CallID)
		if c.ReplayID != "" {
			line += " -> " + c.ReplayID
		}
		fmt.Fprintf(w, "%s  args %s\n", line, jsonargs.Marshal(c.Args))
		if c.Error != "" {
			fmt.Fprintf(w, "    error   %s\n", c.Error)
		}
		if diff && c.Outcome == outcomeChanged {
			if len(c.Changes) > 0 {
				printChanges(e, c.Changes, maxDiffLines)
				continue
			}
			// Nothing differs once decoded: show both whole, and
			// that their bytes differ.
			fmt.Fprintf(w, "    stored  %s\n", c.Stored)
			fmt.Fprintf(w, "    replay  %s\n", c.Replay)
			if c.Stored.Code == c.Replay.Code && c.Stored.Message == c.Replay.Message &&
				jsonargs.Marshal(c.Stored.Results) == jsonargs.Marshal(c.Replay.Results) {
				fmt.Fprintf(w, "    (the bodies differ in their bytes: %x vs %x)\n", c.Stored.body, c.Replay.body)
			}
		}
	}
	skipped := ""
	if s.Skipped > 0 {
		skipped = "; " + skippedSummary(calls, methods, dryRun)
	}
	if dryRun {
		fmt.Fprintf(w, "would replay %d calls%s (dry run: nothing sent)\n", s.Replayed, skipped)
		return exitOK
	}
	fmt.Fprintf(w, "replayed %d calls: %d same, %d changed, %d without a stored reply, %d failed%s\n",
		s.Replayed, s.Same, s.Changed, s.NoReply, s.Failed, skipped)
	return code
}
