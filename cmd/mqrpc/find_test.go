package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/mqrpc/mqrpc/runtime"
	"github.com/mqrpc/mqrpc/runtime/rocketmq"
)

func TestSideBySideFallsBackToStacking(t *testing.T) {
	left := []row{{"request", ""}, {"method", "/a.B/C"}, {"args", "[1,2]"}}
	right := []row{{"reply", ""}, {"status", "ok"}, {"trailer", "k=v"}, {"results", "[3]"}}
	wide := []string{
		"request        | reply",
		"method  /a.B/C | status   ok",
		"args    [1,2]  | trailer  k=v",
		"               | results  [3]",
	}
	if got := sideBySide(left, right, 40); !equalLines(got, wide) {
		t.Errorf("width 40:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(wide, "\n"))
	}
	stacked := []string{
		"request",
		"method  /a.B/C",
		"args    [1,2]",
		"",
		"reply",
		"status   ok",
		"trailer  k=v",
		"results  [3]",
	}
	// 2 columns of indent + 14 + " | " + 12 = 31.
	if got := sideBySide(left, right, 30); !equalLines(got, stacked) {
		t.Errorf("width 30:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(stacked, "\n"))
	}
	if got := sideBySide(left, right, 31); !equalLines(got, wide) {
		t.Errorf("width 31:\n%s", strings.Join(got, "\n"))
	}
}

func equalLines(a, b []string) bool { return strings.Join(a, "\n") == strings.Join(b, "\n") }

// A reply from a plain RocketMQ replier has no mqrpc-received: the time
// line has no picked-up event, and no gap is named for what it cannot
// split.
func TestFindTimeLineWithoutReceivedTime(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	req := &rocketmq.StoredMessage{
		Message: runtime.Message{Topic: "calc", Tag: "Add", Key: "id-1", Body: []byte{0x92, 0x02, 0x03},
			Properties: map[string]string{runtime.PropCorrelationID: "id-1", "REPLY_TO_CLIENT": "c"}},
		MsgID: "C0000001", Born: t0, Stored: t0.Add(2 * time.Millisecond),
	}
	reply := &rocketmq.StoredMessage{
		Message: runtime.Message{Body: []byte{0x91, 0x05},
			Properties: map[string]string{runtime.PropCorrelationID: "id-1", runtime.TrailerPrefix + "k": "v"}},
		MsgID: "C0000002", Born: t0.Add(10 * time.Millisecond), Stored: t0.Add(13 * time.Millisecond),
	}
	f := describeFound(req, reply, "id-1")
	if len(f.Timeline) != 4 || f.Durations.QueueWait != nil || f.Durations.HandlerAndReply != nil ||
		*f.Durations.RequestTransit != 2 || *f.Durations.ReplyTransit != 3 {
		t.Errorf("time line %+v, durations %+v", f.Timeline, f.Durations)
	}
	var out bytes.Buffer
	printFound(&env{stdout: &out}, f, 100)
	text := out.String()
	if strings.Contains(text, "queue wait") || strings.Contains(text, "handler and reply") ||
		!hasLineWith(text, evStored, "+2 ms", "request transit", "2 ms") ||
		!hasLineWith(text, evReplied, "+10 ms") || !hasLineWith(text, evReplyKept, "+13 ms", "reply transit", "3 ms") ||
		!hasLineWith(text, "method", "(tag) Add", "|", "status", "ok") || !hasLineWith(text, "metadata", "(none)", "|", "trailer", "k=v") ||
		!hasLineWith(text, "args", "[2,3]", "|", "results", "[5]") || strings.Contains(text, " \n") {
		t.Errorf("text:\n%s", text)
	}
}
