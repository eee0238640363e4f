package main

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/mqrpc/mqrpc/codec"
	"github.com/mqrpc/mqrpc/runtime"
)

// fanoutBody is a reply body as it came, decoded per reply by the command.
type fanoutBody []byte

// fanoutCodec encodes as its codec does and leaves reply bodies undecoded:
// the replies of a fan-out call are decoded one by one, each into a value
// of its own, after the call.
type fanoutCodec struct{ codec.Codec }

func (c fanoutCodec) Unmarshal(b []byte, v any) error {
	p, ok := v.(*fanoutBody)
	if !ok {
		return c.Codec.Unmarshal(b, v)
	}
	*p = append(fanoutBody(nil), b...)
	return nil
}

// fanoutCall makes the fan-out call of `mqrpc call -all`: every server
// instance answers, and each answer is printed on a line of its own
// (instance id, status, results or message), or as one element of the
// "replies" array with -o json. It exits with the call's status when no
// server answered, 0 otherwise, whatever the answers say.
func (e *env) fanoutCall(ctx context.Context, c *runtime.Client, full string, req any, result callResult, cd codec.Codec, opts []runtime.CallOption, lastID func() string) int {
	opts = append(opts, runtime.WithCodec(fanoutCodec{cd}))
	start := time.Now()
	replies, err := runtime.Fanout(ctx, c, full, req, func(b *fanoutBody) fanoutBody { return *b }, opts...)
	latency := time.Since(start)
	callID := lastID()
	ms := float64(latency.Microseconds()) / 1000
	if err != nil {
		return e.report(full, callID, nil, err, latency, nil)
	}
	var lines []map[string]any
	for _, r := range replies {
		err := r.Err
		var res callResult
		if err == nil {
			res, err = decodeFanoutReply(result, cd, r.Value)
		}
		code := runtime.CodeOf(err)
		if e.output == "json" {
			line := map[string]any{"instance": r.Instance, "status": code.String(), "code": int(code)}
			switch {
			case err != nil:
				line["message"] = statusMessage(err)
			case res != nil:
				res.addJSON(line)
			}
			if len(r.Trailer) > 0 {
				line["trailer"] = r.Trailer
			}
			lines = append(lines, line)
			continue
		}
		text := ""
		switch {
		case err != nil:
			text = statusMessage(err)
		case res != nil:
			text = res.text()
		}
		fmt.Fprintf(e.stdout, "%s\t%s\t%s\n", instanceName(r.Instance), code, text)
	}
	if e.output == "json" {
		e.printJSON(map[string]any{"method": full, "call_id": callID, "latency_ms": ms, "replies": lines})
		return exitOK
	}
	fmt.Fprintf(e.stderr, "%d replies  %s  %.2f ms  call id %s\n", len(replies), full, ms, callID)
	return exitOK
}

func instanceName(id string) string {
	if id == "" {
		return "(unnamed)"
	}
	return id
}

// decodeFanoutReply decodes one reply body, encoded with cd, into a result
// like the one the command built for the call.
func decodeFanoutReply(like callResult, cd codec.Codec, body fanoutBody) (callResult, error) {
	switch r := like.(type) {
	case messageResult:
		m := dynamicpb.NewMessage(r.msg.Descriptor())
		if err := cd.Unmarshal(body, m); err != nil {
			return nil, runtime.Errorf(runtime.Internal, "decode response: %v", err)
		}
		return messageResult{m}, nil
	case *positionalResult:
		p := &positionalResult{desc: r.desc, body: []byte(body)}
		if err := p.decode(); err != nil {
			return nil, runtime.Errorf(runtime.Internal, "%v", err)
		}
		return p, nil
	}
	return nil, nil
}

// The command's transport carries fan-out calls when the one it wraps
// does.
var _ runtime.FanoutTransport = (*capture)(nil)

func (c *capture) SubscribeBroadcast(topic, group string, h runtime.MessageHandler) (runtime.Subscription, error) {
	ft, ok := c.Transport.(runtime.FanoutTransport)
	if !ok {
		return nil, fmt.Errorf("transport %T does not carry fan-out calls", c.Transport)
	}
	return ft.SubscribeBroadcast(topic, group, h)
}

func (c *capture) Members(ctx context.Context, topic, group string) (int, error) {
	ft, ok := c.Transport.(runtime.FanoutTransport)
	if !ok {
		return 0, fmt.Errorf("transport %T does not carry fan-out calls", c.Transport)
	}
	return ft.Members(ctx, topic, group)
}
