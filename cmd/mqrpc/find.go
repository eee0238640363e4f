package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/mqrpc/mqrpc/codec"
	"github.com/mqrpc/mqrpc/internal/jsonargs"
	"github.com/mqrpc/mqrpc/runtime"
	"github.com/mqrpc/mqrpc/runtime/rocketmq"
)

func cmdFind(ctx context.Context, e *env, args []string) int {
	fs := e.flags("[flags] [-topic T | -service S] CALL_ID|KEY\n       mqrpc find [flags] -topic T | -service S [-method M] [-status S]")
	topic := fs.String("topic", "", "request `topic` to search (default: every topic with an mqrpc server group)")
	service := fs.String("service", "", "`service` whose request topic to search")
	since := fs.String("since", "1h", "search requests stored after this `time` (RFC 3339, or a duration before now)")
	until := fs.String("until", "now", "search requests stored before this `time`")
	var filter callFilter
	fs.StringVar(&filter.method, "method", "", "list only calls of this `method` (Name or /pkg.Service/Name)")
	fs.StringVar(&filter.status, "status", "", "list only calls that ended with this `status`: a code name (ok, invalid_argument, ...),\n"+
		statusFailed+" (any but ok), "+statusNone+" (no stored reply: "+statusNoReply+" or "+statusOneWay+")")
	scan := fs.Bool("scan", false, "read the whole window for KEY instead of asking the brokers' index of keys")
	if code, ok := e.parse(args); !ok {
		return code
	}
	if fs.NArg() > 1 {
		fs.Usage()
		return exitUsage
	}
	if *topic != "" && *service != "" {
		return e.usageErr("give -topic or -service, not both")
	}
	if fs.NArg() == 0 && *topic == "" && *service == "" {
		return e.usageErr("give a CALL_ID or KEY, or -service or -topic to search (mqrpc find -service S -status failed -since 10m)")
	}
	if err := checkStatus(filter.status); err != nil {
		return e.usageErr("-status: %v", err)
	}
	if *service != "" {
		*topic = runtime.TopicFor(*service)
	}
	now := time.Now()
	from, to, err := parseWindow(*since, *until, now)
	if err != nil {
		return e.usageErr("%v", err)
	}
	key := fs.Arg(0)
	if *scan && key == "" {
		return e.usageErr("-scan applies to a search by KEY")
	}
	store, err := rocketmq.OpenStore(e.config())
	if err != nil {
		return e.fail(exitUnreachable, "%v", err)
	}
	defer store.Close()

	topics := []string{*topic}
	where := "topic " + *topic
	if *topic == "" {
		if topics, err = store.ServiceTopics(ctx); err != nil {
			return e.fail(exitUnreachable, "%v", err)
		}
		where = fmt.Sprintf("the %d topics with an mqrpc server group", len(topics))
	}
	// A call id shows its call; a key under which several calls are
	// stored, a filter or a search without a key lists them.
	var req *rocketmq.StoredMessage
	var reqs []*rocketmq.StoredMessage
	var unread []error
	scanned := key == ""
	if key == "" {
		reqs, unread, err = searchRequests(ctx, store, topics, filter, from, to)
	} else {
		req, reqs, scanned, unread, err = keyCalls(ctx, store, topics, key, from, to, *scan)
	}
	if err == nil && req == nil && (key == "" || len(reqs) > 1 || (len(reqs) == 1 && !filter.empty())) {
		cs := &calls{Key: key, Topics: topics, Method: filter.method, Status: filter.status, Since: from, Until: to, Scanned: scanned}
		return listCalls(ctx, e, store, cs, reqs, unread, filter, where, now)
	}
	if req == nil && len(reqs) == 1 {
		req = reqs[0]
	}
	if err != nil {
		return e.fail(exitUnreachable, "%v", err)
	}
	if req == nil && len(unread) > 0 {
		return e.fail(exitUnreachable, "no request with call id or key %q found, and these topics could not be read: %v",
			key, errors.Join(unread...))
	}
	if req == nil {
		return e.fail(exitNotFound, "no request with call id or key %q on %s between %s and %s",
			key, where, from.Format(time.RFC3339), to.Format(time.RFC3339))
	}
	id := callID(req)
	// The reply is stored after its request, by the request's deadline;
	// the broker pushes a reply before it stores it, so the window reaches
	// past now.
	replyUntil := now.Add(time.Minute)
	if ms, err := strconv.ParseInt(req.Properties[runtime.PropDeadline], 10, 64); err == nil {
		replyUntil = time.UnixMilli(ms).Add(time.Minute)
	}
	// A reply can be stored more than once (a server that sent it again
	// when the broker was slow to confirm it, through another broker): the
	// whole window is read, and the first one sent is the call's reply.
	var reply *rocketmq.StoredMessage
	copies := 0
	if req.Properties["REPLY_TO_CLIENT"] != "" {
		err = store.Scan(ctx, store.ReplyTopic(), req.Stored.Add(-time.Second), replyUntil, func(m *rocketmq.StoredMessage) error {
			if m.Properties[runtime.PropCorrelationID] != id {
				return nil
			}
			copies++
			if reply == nil || m.Born.Before(reply.Born) || (m.Born.Equal(reply.Born) && m.Stored.Before(reply.Stored)) {
				reply = m
			}
			return nil
		})
		if err != nil {
			return e.fail(exitUnreachable, "%v", err)
		}
	}
	f := describeFound(req, reply, id)
	if f.Reply != nil {
		f.Reply.Copies = copies
	} else if dl := findDeadLetter(ctx, store, req, id, replyUntil); dl != nil {
		f.DeadLetter = &foundDeadLetter{Topic: dl.Topic, MsgID: dl.MsgID}
		f.Timeline = append(f.Timeline, event{evDeadLettered, dl.Stored})
	}
	if e.output == "json" {
		e.printJSON(f)
		return exitOK
	}
	printFound(e, f, terminalWidth())
	return exitOK
}

// findDeadLetter looks for the request of call id in the dead-letter queue
// of the group that serves its topic, where a server puts a request it
// refuses to run (its call id was claimed by a server that never finished
// it) and the broker one handed back too often. A queue that cannot be
// read counts as empty: the broker creates it with its first message.
func findDeadLetter(ctx context.Context, store *rocketmq.Store, req *rocketmq.StoredMessage, id string, until time.Time) *rocketmq.StoredMessage {
	var dl *rocketmq.StoredMessage
	_ = store.Scan(ctx, rocketmq.DeadLetterTopic(runtime.GroupFor(req.Topic)), req.Stored.Add(-time.Second), until, func(m *rocketmq.StoredMessage) error {
		if callID(m) == id {
			dl = m
			return rocketmq.ErrStopScan
		}
		return nil
	})
	return dl
}

// found is a call as find shows it.
type found struct {
	CallID    string            `json:"call_id"`
	Method    string            `json:"method"`
	Keys      []string          `json:"keys"`
	Topic     string            `json:"topic"`
	MsgID     string            `json:"msg_id"`
	Metadata  map[string]string `json:"metadata,omitempty"`
	Args      any               `json:"args"`
	Deadline  *time.Time        `json:"deadline,omitempty"`
	OneWay    bool              `json:"one_way,omitempty"`
	Reply     *foundReply       `json:"reply"`
	Timeline  []event           `json:"timeline"`
	Durations *durations        `json:"durations_ms,omitempty"`
	// DeadLetter is where the request was dead-lettered, when it was
	// and no reply is stored.
	DeadLetter *foundDeadLetter `json:"dead_letter,omitempty"`
}

type foundReply struct {
	Status  string            `json:"status"`
	Code    int               `json:"code"`
	Message string            `json:"message,omitempty"`
	Results any               `json:"results,omitempty"`
	Trailer map[string]string `json:"trailer,omitempty"`
	MsgID   string            `json:"msg_id"`
	Copies  int               `json:"stored_copies"` // how many times the reply is stored
}

type foundDeadLetter struct {
	Topic string `json:"topic"`
	MsgID string `json:"msg_id"`
}

type event struct {
	What string    `json:"what"`
	At   time.Time `json:"at"`
}

// The events of a call's time line.
const (
	evSent      = "sent by the client"
	evStored    = "request stored"
	evReceived  = "picked up by the server"
	evReplied   = "reply sent by the server"
	evReplyKept = "reply stored"
	// The request was moved to its group's dead-letter queue: no server
	// ran it to the end.
	evDeadLettered = "request dead-lettered"
)

// durations are the gaps between the events of a time line, in
// milliseconds; each is absent when one of its events is unknown. Each
// subtracts times of two clocks (client, broker, server), so it is only
// as right as they agree.
type durations struct {
	RequestTransit  *float64 `json:"request_transit,omitempty"`   // request stored - sent
	QueueWait       *float64 `json:"queue_wait,omitempty"`        // picked up - request stored
	HandlerAndReply *float64 `json:"handler_and_reply,omitempty"` // replied - picked up
	ReplyTransit    *float64 `json:"reply_transit,omitempty"`     // reply stored - replied
}

// gap is the duration from event a to event b in milliseconds, or nil
// when the time line lacks one of them.
func (f *found) gap(a, b string) *float64 {
	ta, oka := f.at(a)
	tb, okb := f.at(b)
	if !oka || !okb {
		return nil
	}
	ms := float64(tb.Sub(ta).Microseconds()) / 1000
	return &ms
}

func (f *found) at(what string) (time.Time, bool) {
	for _, ev := range f.Timeline {
		if ev.What == what {
			return ev.At, true
		}
	}
	return time.Time{}, false
}

func describeFound(req, reply *rocketmq.StoredMessage, id string) *found {
	f := &found{
		CallID:   id,
		Method:   req.Properties[runtime.PropMethod],
		Keys:     strings.Fields(req.Key),
		Topic:    req.Topic,
		MsgID:    req.MsgID,
		Metadata: withPrefix(req.Properties, runtime.MetadataPrefix),
		Args:     decodeBody(req.Body, req.Properties[runtime.PropCodec]),
		OneWay:   req.Properties["REPLY_TO_CLIENT"] == "",
		Timeline: []event{{evSent, req.Born}, {evStored, req.Stored}},
	}
	if f.Method == "" {
		f.Method = "(tag) " + req.Tag
	}
	if ms, err := strconv.ParseInt(req.Properties[runtime.PropDeadline], 10, 64); err == nil {
		d := time.UnixMilli(ms)
		f.Deadline = &d
	}
	if reply != nil {
		r := &foundReply{Status: runtime.OK.String(), MsgID: reply.MsgID, Trailer: withPrefix(reply.Properties, runtime.TrailerPrefix)}
		if s, ok := reply.Properties[runtime.PropStatus]; ok && s != "0" {
			n, _ := strconv.Atoi(s)
			r.Code, r.Status, r.Message = n, runtime.Code(n).String(), reply.Properties[runtime.PropMessage]
		} else if len(reply.Body) > 0 {
			r.Results = decodeBody(reply.Body, reply.Properties[runtime.PropCodec])
		}
		f.Reply = r
		// A plain RocketMQ replier does not say when it took the request.
		if ms, err := strconv.ParseInt(reply.Properties[runtime.PropReceived], 10, 64); err == nil {
			f.Timeline = append(f.Timeline, event{evReceived, time.UnixMilli(ms)})
		}
		f.Timeline = append(f.Timeline, event{evReplied, reply.Born}, event{evReplyKept, reply.Stored})
	}
	f.Durations = &durations{
		RequestTransit:  f.gap(evSent, evStored),
		QueueWait:       f.gap(evStored, evReceived),
		HandlerAndReply: f.gap(evReceived, evReplied),
		ReplyTransit:    f.gap(evReplied, evReplyKept),
	}
	return f
}

// decodeBody decodes a msgpack body generically for display; other codecs
// show as bytes.
func decodeBody(b []byte, codecName string) any {
	if codecName != "" && codecName != codec.Msgpack.Name() {
		return map[string]any{"codec": codecName, "bytes": b}
	}
	v, err := jsonargs.Decode(b)
	if err != nil {
		return map[string]any{"undecodable": err.Error(), "bytes": b}
	}
	return jsonargs.JSON(v)
}

func withPrefix(props map[string]string, prefix string) map[string]string {
	var out map[string]string
	for k, v := range props {
		if name, ok := strings.CutPrefix(k, prefix); ok {
			if out == nil {
				out = map[string]string{}
			}
			out[name] = v
		}
	}
	return out
}

// terminalWidth is the width text output is laid out for: $COLUMNS when
// the shell exports it, else the classic 80 columns.
func terminalWidth() int {
	if n, err := strconv.Atoi(os.Getenv("COLUMNS")); err == nil && n > 0 {
		return n
	}
	return 80
}

// printFound writes f as text: the request and its reply side by side,
// or one under the other when the two columns do not fit in width, then
// the time line.
func printFound(e *env, f *found, width int) {
	w := e.stdout
	fmt.Fprintf(w, "call %s  %s\n", f.CallID, f.Method)
	fmt.Fprintf(w, "  keys     %s\n", strings.Join(f.Keys, " "))
	fmt.Fprintf(w, "  topic    %s\n", f.Topic)
	if f.Reply != nil {
		fmt.Fprintf(w, "  msg ids  request %s, reply %s\n", f.MsgID, f.Reply.MsgID)
		if f.Reply.Copies > 1 {
			fmt.Fprintf(w, "           (the reply is stored %d times: the first sent is shown)\n", f.Reply.Copies)
		}
	} else {
		fmt.Fprintf(w, "  msg id   request %s\n", f.MsgID)
	}
	fmt.Fprintln(w)
	for _, line := range sideBySide(requestColumn(f), replyColumn(f), width) {
		fmt.Fprintf(w, "  %s\n", line)
	}
	switch {
	case f.DeadLetter != nil:
		fmt.Fprintf(w, "  (dead-lettered: in %s, msg id %s; a server refused to run it because its call id was\n"+
			"   claimed by a server that never finished it, which may have died of it, or it was handed back too often)\n",
			f.DeadLetter.Topic, f.DeadLetter.MsgID)
	case f.Reply == nil && !f.OneWay:
		fmt.Fprintf(w, "  (no server answered by the deadline, the reply is not stored yet, or the broker does not store replies)\n")
	}

	fmt.Fprintf(w, "\n  time line\n")
	t0 := f.Timeline[0].At
	gaps := map[string]string{
		evStored:    "request transit",
		evReceived:  "queue wait",
		evReplied:   "handler and reply",
		evReplyKept: "reply transit",
	}
	for i, ev := range f.Timeline {
		if i == 0 {
			fmt.Fprintf(w, "    %-25s %s\n", ev.What, ev.At.Format("2006-01-02T15:04:05.000Z07:00"))
			continue
		}
		line := fmt.Sprintf("    %-25s %-9s", ev.What, fmt.Sprintf("%+.0f ms", millis(ev.At.Sub(t0))))
		// A gap across an event the time line lacks is not the gap its
		// name says (no queue wait without the picked-up time).
		if prev := f.Timeline[i-1]; prev.What == previousEvent(ev.What) {
			line += fmt.Sprintf("  %-17s %.0f ms", gaps[ev.What], millis(ev.At.Sub(prev.At)))
		}
		fmt.Fprintln(w, strings.TrimRight(line, " "))
	}
	if f.Deadline != nil {
		fmt.Fprintf(w, "    %-25s %+.0f ms\n", "deadline", millis(f.Deadline.Sub(t0)))
	}
}

// previousEvent is the event whose gap to what the time line shows.
func previousEvent(what string) string {
	order := []string{evSent, evStored, evReceived, evReplied, evReplyKept}
	if i := slices.Index(order, what); i > 0 {
		return order[i-1]
	}
	return ""
}

func millis(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// row is one line of a column: a label and its value.
type row struct{ label, value string }

func requestColumn(f *found) []row {
	rows := []row{{"request", ""}, {"method", f.Method}}
	rows = append(rows, metadataRows("metadata", f.Metadata)...)
	return append(rows, row{"args", jsonargs.Marshal(f.Args)})
}

func replyColumn(f *found) []row {
	rows := []row{{"reply", ""}}
	switch {
	case f.Reply == nil && f.DeadLetter != nil:
		return append(rows, row{"status", "none (dead-lettered)"})
	case f.Reply == nil && f.OneWay:
		return append(rows, row{"status", "none (one-way call)"})
	case f.Reply == nil:
		return append(rows, row{"status", "not stored"})
	case f.Reply.Code == 0:
		rows = append(rows, row{"status", f.Reply.Status})
	default:
		rows = append(rows, row{"status", f.Reply.Status + ": " + f.Reply.Message})
	}
	rows = append(rows, metadataRows("trailer", f.Reply.Trailer)...)
	if f.Reply.Code == 0 {
		rows = append(rows, row{"results", jsonargs.Marshal(f.Reply.Results)})
	}
	return rows
}

// metadataRows is one row per key, sorted, or "(none)".
func metadataRows(label string, md map[string]string) []row {
	if len(md) == 0 {
		return []row{{label, "(none)"}}
	}
	var rows []row
	for _, k := range slices.Sorted(maps.Keys(md)) {
		rows = append(rows, row{label, k + "=" + md[k]})
		label = ""
	}
	return rows
}

// sideBySide lays out two columns of rows as "left | right" lines, or
// one column under the other when that would be wider than width.
func sideBySide(left, right []row, width int) []string {
	l, r := renderRows(left), renderRows(right)
	lw := 0
	for _, s := range l {
		lw = max(lw, utf8.RuneCountInString(s))
	}
	rw := 0
	for _, s := range r {
		rw = max(rw, utf8.RuneCountInString(s))
	}
	const indent, sep = 2, " | "
	if indent+lw+len(sep)+rw > width {
		return append(append(l, ""), r...)
	}
	out := make([]string, max(len(l), len(r)))
	for i := range out {
		var a, b string
		if i < len(l) {
			a = l[i]
		}
		if i < len(r) {
			b = r[i]
		}
		a += strings.Repeat(" ", lw-utf8.RuneCountInString(a))
		out[i] = strings.TrimRight(a+sep+b, " ")
	}
	return out
}

// renderRows writes rows as "label     value", the values aligned.
func renderRows(rows []row) []string {
	lw := 0
	for _, r := range rows {
		if r.value != "" {
			lw = max(lw, len(r.label))
		}
	}
	out := make([]string, len(rows))
	for i, r := range rows {
		if r.value == "" {
			out[i] = r.label
			continue
		}
		out[i] = fmt.Sprintf("%-*s  %s", lw, r.label, r.value)
	}
	return out
}
