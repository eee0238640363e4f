// mqrpc describe: what a service's methods take and return, as its
// servers describe them.

package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/mqrpc/mqrpc/internal/jsonargs"
	"github.com/mqrpc/mqrpc/runtime"
)

func cmdDescribe(ctx context.Context, e *env, args []string) int {
	fs := e.flags("[flags] SERVICE[/METHOD]")
	topic := fs.String("topic", "", "request `topic` of the service (default: derived from its name)")
	timeout := fs.Duration("timeout", 5*time.Second, "how long to wait for the server's answer")
	if code, ok := e.parse(args); !ok {
		return code
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return exitUsage
	}
	service, method := splitTarget(fs.Arg(0))
	c, _, closeFn, err := e.client()
	if err != nil {
		return e.fail(exitUnreachable, "%v", err)
	}
	defer closeFn()
	opts := callOptions(*timeout, *topic)
	d, err := runtime.Describe(ctx, c, service, opts...)
	if err != nil {
		return e.fail(statusExit(err), "describe %s: %v", service, err)
	}
	svc := d.Service(service)
	if svc == nil {
		return e.fail(exitStatusBase+int(runtime.NotFound), "the server on topic %s does not serve %s", runtime.TopicFor(service), service)
	}
	if method != "" {
		m := svc.Method(method)
		if m == nil {
			return e.fail(exitStatusBase+int(runtime.Unimplemented), "%s has no method %s", service, method)
		}
		out := *svc
		out.Methods = []runtime.MethodDescription{*m}
		svc = &out
	}
	if e.output == "json" {
		e.printJSON(svc)
		return exitOK
	}
	printService(e, svc)
	return exitOK
}

func printService(e *env, svc *runtime.ServiceDescription) {
	fmt.Fprintf(e.stdout, "%s (topic %s)\n", svc.Name, svc.Topic)
	for _, m := range svc.Methods {
		fmt.Fprintf(e.stdout, "  %s\n", methodLine(&m))
	}
}

// methodLine writes a method as a Go-like signature.
func methodLine(m *runtime.MethodDescription) string {
	res := jsonargs.Signature(m.Results)
	if len(m.Results) > 1 || (len(m.Results) == 1 && m.Results[0].Name != "") {
		res = "(" + res + ")"
	}
	if m.Body == runtime.BodyMessage.String() {
		res = "*" + m.Response
		if m.Response == "" && len(m.Results) == 1 {
			res = m.Results[0].Type
		}
		line := fmt.Sprintf("%s(%s) %s", m.Name, m.Request, res)
		if m.Request == "" {
			line = fmt.Sprintf("%s(%s) %s", m.Name, jsonargs.Signature(m.Params), res)
		}
		return line + methodMarks(m)
	}
	line := fmt.Sprintf("%s(%s) %s", m.Name, jsonargs.Signature(m.Params), res)
	return strings.TrimSpace(line) + methodMarks(m)
}

// methodMarks writes what the description says of a method beyond its
// signature: "  [one-way]", "  [idempotent]".
func methodMarks(m *runtime.MethodDescription) string {
	s := ""
	if m.OneWay {
		s += "  [one-way]"
	}
	if m.Idempotent {
		s += "  [idempotent]"
	}
	return s
}
