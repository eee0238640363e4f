package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/vmihailenco/msgpack/v5"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/mqrpc/mqrpc/codec"
	"github.com/mqrpc/mqrpc/internal/jsonargs"
	"github.com/mqrpc/mqrpc/runtime"
	"github.com/mqrpc/mqrpc/runtime/rocketmq"
)

// splitTarget splits "svc/Method" (or "/svc/Method") into its parts.
func splitTarget(s string) (service, method string) {
	s = strings.TrimPrefix(s, "/")
	service, method, _ = strings.Cut(s, "/")
	return service, method
}

// unknownService returns an error when no server group consumes topic,
// the request topic of service, naming the services that are served; a
// request there would wait its whole deadline for nobody. It returns nil
// when the topic has a server group or the cluster cannot tell.
func unknownService(ctx context.Context, e *env, c *runtime.Client, service, topic string) error {
	store, err := rocketmq.OpenStore(e.config())
	if err != nil {
		return nil // the call itself reports an unreachable cluster
	}
	topics, err := store.ServiceTopics(ctx)
	_ = store.Close()
	if err != nil || slices.Contains(topics, topic) {
		return nil
	}
	if len(topics) == 0 {
		return runtime.Errorf(runtime.NotFound, "no server serves %s (topic %s): no topic of the cluster has an mqrpc server group", service, topic)
	}
	services, silent := describeTopics(ctx, c, topics, time.Second)
	var names []string
	for _, s := range services {
		names = append(names, s.Name)
	}
	known := strings.Join(names, ", ")
	if len(silent) > 0 {
		if known != "" {
			known += "; "
		}
		known += "topics whose servers did not answer: " + strings.Join(silent, ", ")
	}
	return runtime.Errorf(runtime.NotFound, "no server serves %s (topic %s); served: %s", service, topic, known)
}

func cmdCall(ctx context.Context, e *env, args []string) int {
	fs := e.flags("[flags] SERVICE/METHOD [ARGS]")
	topic := fs.String("topic", "", "request `topic` (default: derived from the service name)")
	timeout := fs.Duration("timeout", 10*time.Second, "deadline of the call")
	key := fs.String("key", "", "business `key` added to the request's keys, for 'mqrpc find KEY'")
	codecName := fs.String("codec", codec.Msgpack.Name(), "`codec` of the request: msgpack, or proto for methods of .proto services")
	noDescribe := fs.Bool("no-describe", false, "do not ask the server for the method's types; convert arguments by their JSON form")
	all := fs.Bool("all", false, "fan-out call: every server instance answers, one line each (servers need runtime.WithFanoutCalls)")
	var md metadataFlag
	fs.Var(&md, "md", "call metadata `key=value` (repeatable)")
	if code, ok := e.parse(args); !ok {
		return code
	}
	if fs.NArg() < 1 || fs.NArg() > 2 {
		fs.Usage()
		return exitUsage
	}
	service, method := splitTarget(fs.Arg(0))
	if service == "" || method == "" {
		return e.usageErr("want SERVICE/METHOD, as in calculator.Calculator/Add; got %q", fs.Arg(0))
	}
	cd, err := codec.NewRegistry().Lookup(*codecName)
	if err != nil {
		return e.usageErr("-codec: %v", err)
	}
	raw := ""
	if fs.NArg() == 2 {
		raw = fs.Arg(1)
		if err := jsonSyntax(raw); err != nil {
			return e.usageErr("arguments are not valid JSON: %v; give a JSON array, as in '[2,3]', or for a .proto method a JSON object, as in '{\"a\":2}'", err)
		}
	}
	c, capt, closeFn, err := e.client()
	if err != nil {
		return e.fail(exitUnreachable, "%v", err)
	}
	defer closeFn()
	opts := callOptions(*timeout, *topic)
	full := runtime.FullMethodName(service, method)

	var svc *runtime.ServiceDescription
	var desc *runtime.MethodDescription
	if *topic == "" {
		if err := unknownService(ctx, e, c, service, runtime.TopicFor(service)); err != nil {
			return e.fail(statusExit(err), "%v", err)
		}
	}
	if !*noDescribe {
		d, err := runtime.Describe(ctx, c, service, opts...)
		switch {
		case runtime.CodeOf(err) == runtime.Unimplemented:
			fmt.Fprintf(e.stderr, "mqrpc call: the server does not describe itself (%v); converting arguments by their JSON form\n", err)
		case err != nil:
			return e.fail(statusExit(err), "describe %s: %v", service, err)
		default:
			if svc = d.Service(service); svc == nil {
				return e.fail(exitStatusBase+int(runtime.Unimplemented), "the server on that topic does not serve %s", service)
			}
			if desc = svc.Method(method); desc == nil {
				return e.fail(exitStatusBase+int(runtime.Unimplemented), "%s has no method %s; it has %s", service, method, methodNames(svc))
			}
		}
	}
	// The request and the value its reply decodes into.
	var req, resp any
	var result callResult
	if desc != nil && desc.Body == runtime.BodyMessage.String() {
		reqDesc, respDesc, err := svc.ProtoMessages(method)
		if err != nil {
			return e.usageErr("cannot build the messages of %s: %v", full, err)
		}
		in, out := dynamicpb.NewMessage(reqDesc), dynamicpb.NewMessage(respDesc)
		if raw == "" {
			raw = "{}"
		}
		if err := jsonargs.Message(raw, in); err != nil {
			return e.usageErr("%s: %v", full, err)
		}
		req, resp, result = in, out, messageResult{out}
	} else {
		if cd != codec.Msgpack {
			return e.usageErr("-codec %s carries only protobuf messages; %s takes positional arguments, which travel in msgpack", cd.Name(), full)
		}
		if raw == "" {
			raw = "[]"
		}
		var m *jsonargs.Method
		if desc != nil {
			m = &jsonargs.Method{Params: desc.Params, Types: svc.Types}
		}
		values, err := jsonargs.Args(raw, m)
		if err != nil {
			return e.usageErr("%s: %v", full, err)
		}
		r := &positionalResult{desc: desc}
		req, resp, result = values, &r.body, r
	}
	if len(md) > 0 {
		ctx = runtime.WithOutgoingMetadata(ctx, runtime.Metadata(md))
	}

	var trailer runtime.Metadata
	opts = append(opts, runtime.Trailer(&trailer), runtime.WithCodec(cd))
	if *key != "" {
		opts = append(opts, runtime.WithKeys(*key)) // on the call itself, not on the describe before it
	}
	start := time.Now()
	oneWay := desc != nil && desc.OneWay
	if *all && oneWay {
		return e.fail(exitStatusBase+int(runtime.InvalidArgument), "%s is one-way: no server would answer a fan-out call of it", full)
	}
	if *all {
		return e.fanoutCall(ctx, c, full, req, result, cd, opts, capt.lastID)
	}
	if oneWay {
		err = c.Send(ctx, full, req, opts...)
	} else {
		err = c.Invoke(ctx, full, req, resp, opts...)
	}
	latency := time.Since(start)
	callID := capt.lastID()
	if err == nil && !oneWay {
		if err := result.decode(); err != nil {
			// The call succeeded: this is the command's own failure, never
			// to be reported as the server's status.
			return e.fail(exitUndecodable, "%s answered ok (call id %s), but its reply cannot be shown: %v", full, callID, err)
		}
	}
	if _, ok := result.(messageResult); ok && oneWay {
		result = nil // no response message; a positional call still prints []
	}
	return e.report(full, callID, result, err, latency, trailer)
}

func methodNames(svc *runtime.ServiceDescription) string {
	names := make([]string, len(svc.Methods))
	for i, m := range svc.Methods {
		names[i] = m.Name
	}
	return strings.Join(names, ", ")
}

// callResult is the reply of a call, as the command prints it.
type callResult interface {
	// decode reads the reply body that the call left in the result.
	decode() error
	// text is the line printed on stdout.
	text() string
	// addJSON adds the result to the -o json object.
	addJSON(out map[string]any)
}

// positionalResult is the reply of a positional method: the array of its
// results.
type positionalResult struct {
	desc    *runtime.MethodDescription
	body    msgpack.RawMessage
	results []any
}

func (r *positionalResult) decode() error {
	if len(r.body) == 0 {
		return nil
	}
	v, err := jsonargs.Decode(r.body)
	if err != nil {
		return fmt.Errorf("decode results: %w", err)
	}
	results, ok := v.([]any)
	if !ok {
		return fmt.Errorf("decode results: the reply body is a %T, not an array of results", v)
	}
	r.results = results
	if r.desc != nil && len(r.desc.Results) == len(results) {
		for i, f := range r.desc.Results {
			results[i] = readable(results[i], f.Type)
		}
	}
	return nil
}

// jsonSyntax says what is wrong with raw as JSON, and where.
func jsonSyntax(raw string) error {
	var v any
	err := json.Unmarshal([]byte(raw), &v)
	var se *json.SyntaxError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &se):
		return fmt.Errorf("%v (at byte %d of %d)", se, se.Offset, len(raw))
	}
	return err
}

// readable shows a result of type typ as a person reads it: a
// time.Duration, which travels as nanoseconds, as "1m30s".
func readable(v any, typ string) any {
	if typ != "time.Duration" {
		return v
	}
	switch rv := reflect.ValueOf(v); {
	case rv.CanInt():
		return time.Duration(rv.Int()).String()
	case rv.CanUint() && rv.Uint() <= math.MaxInt64:
		return time.Duration(rv.Uint()).String()
	}
	return v
}

// text is the results as JSON, indented when they do not fit on a line.
func (r *positionalResult) text() string { return jsonargs.Text(nonNilList(r.results), 80) }

func (r *positionalResult) addJSON(out map[string]any) {
	out["results"] = jsonargs.JSON(nonNilList(r.results))
	if r.desc != nil && len(r.desc.Results) == len(r.results) && namedResults(r.desc.Results) {
		named := map[string]any{}
		for i, f := range r.desc.Results {
			named[f.Name] = jsonargs.JSON(r.results[i])
		}
		out["named"] = named
	}
}

// messageResult is the reply of a .proto method: its response message,
// printed in protobuf's JSON mapping with every field, set or not.
type messageResult struct {
	msg *dynamicpb.Message
}

func (messageResult) decode() error { return nil } // the codec decoded it

func (r messageResult) json() json.RawMessage {
	b, err := protojson.MarshalOptions{EmitUnpopulated: true}.Marshal(r.msg)
	if err != nil {
		b, _ = json.Marshal(map[string]string{"error": err.Error()})
	}
	// protojson varies its spacing on purpose; print it the same way every time.
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		return b
	}
	return buf.Bytes()
}

func (r messageResult) text() string { return string(r.json()) }

func (r messageResult) addJSON(out map[string]any) { out["response"] = r.json() }

// report prints a call's outcome: the result as JSON on stdout, the status
// and latency on stderr (text), or one JSON object (-o json). result is
// nil for a one-way call.
func (e *env) report(full, callID string, result callResult, err error, latency time.Duration, trailer runtime.Metadata) int {
	code := runtime.CodeOf(err)
	ms := float64(latency.Microseconds()) / 1000
	if e.output == "json" {
		out := map[string]any{
			"method":     full,
			"call_id":    callID,
			"status":     code.String(),
			"code":       int(code),
			"latency_ms": ms,
		}
		if err != nil {
			out["message"] = statusMessage(err)
		} else if result != nil {
			result.addJSON(out)
		}
		if len(trailer) > 0 {
			out["trailer"] = trailer
		}
		e.printJSON(out)
		return statusExit(err)
	}
	if err == nil {
		if result != nil {
			fmt.Fprintln(e.stdout, result.text())
		}
		fmt.Fprintf(e.stderr, "%s  %s  %.2f ms  call id %s\n", code, full, ms, callID)
	} else {
		fmt.Fprintf(e.stderr, "%s: %s\n%s  %.2f ms  call id %s\n", code, statusMessage(err), full, ms, callID)
	}
	return statusExit(err)
}

func statusMessage(err error) string {
	if re, ok := err.(*runtime.Error); ok {
		return re.Message
	}
	return err.Error()
}

func namedResults(fs []runtime.Field) bool {
	for _, f := range fs {
		if f.Name == "" {
			return false
		}
	}
	return len(fs) > 0
}

func nonNilList(v []any) []any {
	if v == nil {
		return []any{}
	}
	return v
}

// metadataFlag collects -md key=value flags.
type metadataFlag runtime.Metadata

func (m *metadataFlag) String() string { return "" }

func (m *metadataFlag) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("want key=value, got %q", s)
	}
	if *m == nil {
		*m = metadataFlag{}
	}
	(*m)[strings.ToLower(k)] = v
	return nil
}

// callOptions bounds a call by timeout and sends it to topic when one is
// given, instead of the service's default topic.
func callOptions(timeout time.Duration, topic string) []runtime.CallOption {
	opts := []runtime.CallOption{runtime.WithTimeout(timeout)}
	if topic != "" {
		opts = append(opts, runtime.WithTopic(topic))
	}
	return opts
}
