package main

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mqrpc/mqrpc/codec"
	"github.com/mqrpc/mqrpc/internal/jsonargs"
	"github.com/mqrpc/mqrpc/runtime"
	"github.com/mqrpc/mqrpc/runtime/rocketmq"
)

func cmdFind(ctx context.Context, e *env, args []string) int {
	fs := e.flags("[flags] -topic T | -service S  CALL_ID|KEY")
	topic := fs.String("topic", "", "request `topic` to search")
	service := fs.String("service", "", "`service` whose request topic to search")
	since := fs.String("since", "1h", "search requests stored after this `time` (RFC 3339, or a duration before now)")
	until := fs.String("until", "now", "search requests stored before this `time`")
	if code, ok := e.parse(args); !ok {
		return code
	}
	if fs.NArg() != 1 || (*topic == "") == (*service == "") {
		fs.Usage()
		return exitUsage
	}
	if *topic == "" {
		*topic = runtime.TopicFor(*service)
	}
	now := time.Now()
	from, err := parseWhen(*since, now)
	if err != nil {
		return e.usageErr("-since: %v", err)
	}
	to, err := parseWhen(*until, now)
	if err != nil {
		return e.usageErr("-until: %v", err)
	}
	key := fs.Arg(0)
	store, err := rocketmq.OpenStore(e.config())
	if err != nil {
		return e.fail(exitUnreachable, "%v", err)
	}
	defer store.Close()

	// The broker's key index is not reachable from the Go client, so the
	// request topic is scanned over the window, bounded by it.
	var req *rocketmq.StoredMessage
	err = store.Scan(ctx, *topic, from, to, func(m *rocketmq.StoredMessage) error {
		// A business key can name several calls: show the latest.
		if m.Properties[runtime.PropCorrelationID] == key || slices.Contains(strings.Fields(m.Key), key) {
			if req == nil || m.Stored.After(req.Stored) {
				req = m
			}
		}
		return nil
	})
	if err != nil {
		return e.fail(exitUnreachable, "%v", err)
	}
	if req == nil {
		return e.fail(exitFound, "no request with call id or key %q on topic %s between %s and %s",
			key, *topic, from.Format(time.RFC3339), to.Format(time.RFC3339))
	}
	id := req.Properties[runtime.PropCorrelationID]
	if id == "" {
		id, _, _ = strings.Cut(req.Key, " ")
	}
	// The reply is stored after its request, by the request's deadline;
	// the broker pushes a reply before it stores it, so the window reaches
	// past now.
	replyUntil := now.Add(time.Minute)
	if ms, err := strconv.ParseInt(req.Properties[runtime.PropDeadline], 10, 64); err == nil {
		replyUntil = time.UnixMilli(ms).Add(time.Minute)
	}
	var reply *rocketmq.StoredMessage
	if req.Properties["REPLY_TO_CLIENT"] != "" {
		err = store.Scan(ctx, store.ReplyTopic(), req.Stored.Add(-time.Second), replyUntil, func(m *rocketmq.StoredMessage) error {
			if m.Properties[runtime.PropCorrelationID] == id {
				reply = m
				return rocketmq.ErrStopScan
			}
			return nil
		})
		if err != nil {
			return e.fail(exitUnreachable, "%v", err)
		}
	}
	f := describeFound(req, reply, id)
	if e.output == "json" {
		e.printJSON(f)
		return exitOK
	}
	printFound(e, f)
	return exitOK
}

// found is a call as find shows it.
type found struct {
	CallID   string            `json:"call_id"`
	Method   string            `json:"method"`
	Keys     []string          `json:"keys"`
	Topic    string            `json:"topic"`
	MsgID    string            `json:"msg_id"`
	Metadata map[string]string `json:"metadata,omitempty"`
	Args     any               `json:"args"`
	Deadline *time.Time        `json:"deadline,omitempty"`
	OneWay   bool              `json:"one_way,omitempty"`
	Reply    *foundReply       `json:"reply"`
	Timeline []event           `json:"timeline"`
}

type foundReply struct {
	Status  string            `json:"status"`
	Code    int               `json:"code"`
	Message string            `json:"message,omitempty"`
	Results any               `json:"results,omitempty"`
	Trailer map[string]string `json:"trailer,omitempty"`
	MsgID   string            `json:"msg_id"`
}

type event struct {
	What string    `json:"what"`
	At   time.Time `json:"at"`
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
		Timeline: []event{{"sent by the client", req.Born}, {"request stored", req.Stored}},
	}
	if f.Method == "" {
		f.Method = "(tag) " + req.Tag
	}
	if ms, err := strconv.ParseInt(req.Properties[runtime.PropDeadline], 10, 64); err == nil {
		d := time.UnixMilli(ms)
		f.Deadline = &d
	}
	if reply == nil {
		return f
	}
	r := &foundReply{Status: "ok", MsgID: reply.MsgID, Trailer: withPrefix(reply.Properties, runtime.TrailerPrefix)}
	if s, ok := reply.Properties[runtime.PropStatus]; ok && s != "0" {
		n, _ := strconv.Atoi(s)
		r.Code, r.Status, r.Message = n, runtime.Code(n).String(), reply.Properties[runtime.PropMessage]
	} else if len(reply.Body) > 0 {
		r.Results = decodeBody(reply.Body, reply.Properties[runtime.PropCodec])
	}
	f.Reply = r
	f.Timeline = append(f.Timeline, event{"reply sent by the server", reply.Born}, event{"reply stored", reply.Stored})
	return f
}

// decodeBody decodes a msgpack body generically for display; other codecs
// show as bytes.
func decodeBody(b []byte, codecName string) any {
	if codecName != "" && codecName != codec.Msgpack.Name() {
		return map[string]any{"codec": codecName, "bytes": b}
	}
	var v any
	if err := codec.Msgpack.Unmarshal(b, &v); err != nil {
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

func printFound(e *env, f *found) {
	w := e.stdout
	fmt.Fprintf(w, "call %s  %s\n", f.CallID, f.Method)
	fmt.Fprintf(w, "  keys      %s\n", strings.Join(f.Keys, " "))
	fmt.Fprintf(w, "  topic     %s  (msg id %s)\n", f.Topic, f.MsgID)
	for _, k := range jsonargs.SortedKeys(toAny(f.Metadata)) {
		fmt.Fprintf(w, "  metadata  %s=%s\n", k, f.Metadata[k])
	}
	fmt.Fprintf(w, "  args      %s\n", jsonargs.Marshal(f.Args))
	switch {
	case f.Reply != nil:
		if f.Reply.Code == 0 {
			fmt.Fprintf(w, "  reply     ok  %s\n", jsonargs.Marshal(f.Reply.Results))
		} else {
			fmt.Fprintf(w, "  reply     %s: %s\n", f.Reply.Status, f.Reply.Message)
		}
	case f.OneWay:
		fmt.Fprintf(w, "  reply     none (one-way call)\n")
	default:
		fmt.Fprintf(w, "  reply     not stored (no server answered by the deadline, or the broker does not store replies)\n")
	}
	fmt.Fprintf(w, "  time line\n")
	t0 := f.Timeline[0].At
	for i, ev := range f.Timeline {
		at := ev.At.Format("2006-01-02T15:04:05.000Z07:00")
		if i > 0 {
			at = fmt.Sprintf("%+.0f ms", float64(ev.At.Sub(t0).Microseconds())/1000)
		}
		fmt.Fprintf(w, "    %-26s %s\n", ev.What, at)
	}
	if f.Deadline != nil {
		fmt.Fprintf(w, "    %-26s %+.0f ms\n", "deadline", float64(f.Deadline.Sub(t0).Microseconds())/1000)
	}
}

func toAny(m map[string]string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
