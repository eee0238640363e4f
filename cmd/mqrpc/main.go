// Command mqrpc calls, describes, finds and replays mqrpc calls on a
// RocketMQ cluster, for people operating services. It needs no generated
// code: servers describe their methods (mqrpc.Describe), and stored
// requests and replies are read from the brokers.
//
//	mqrpc list     -namesrv 127.0.0.1:9876
//	mqrpc describe -namesrv 127.0.0.1:9876 calculator.Calculator
//	mqrpc call     -namesrv 127.0.0.1:9876 calculator.Calculator/Add '[2,3]'
//	mqrpc find     -namesrv 127.0.0.1:9876 CALL_ID
//	mqrpc replay   -namesrv 127.0.0.1:9876 -topic calculator_Calculator -since 10m -diff
//
// Exit codes: 0 success; 1 usage or bad input; 2 the cluster could not be
// reached (or its stored messages could not be read); 3 find found nothing;
// 4 replay found a changed reply or a replay that failed; 10+N a call ended
// with status code N (13 invalid_argument, 14 deadline_exceeded,
// 22 unimplemented, 24 unavailable, ...). With -o json, a command that
// fails without its own JSON answer prints
// {"error": {"code": NAME, "exit_code": N, "message": ...}} on stdout.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync"
	"time"

	"github.com/mqrpc/mqrpc/runtime"
	"github.com/mqrpc/mqrpc/runtime/rocketmq"
)

// Exit codes.
const (
	exitOK            = 0
	exitUsage         = 1
	exitUnreachable   = 2
	exitNotFound      = 3 // find: nothing found
	exitReplayDiffers = 4 // replay: a reply changed, or a replay failed
	exitUndecodable   = 5 // call: the server answered OK with a reply the command cannot decode
	exitStatusBase    = 10
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

const usage = `mqrpc: call and inspect mqrpc services on a RocketMQ cluster

Usage:
  mqrpc list     [flags]                       services, their live instances and backlog
  mqrpc describe [flags] SERVICE[/METHOD]      methods, parameters and results
  mqrpc call     [flags] SERVICE/METHOD [ARGS] call a method; ARGS is a JSON array
  mqrpc find     [flags] CALL_ID|KEY           a stored call, or the calls under a key
                 [flags] -service S [-method M] [-status S]   stored calls, newest first
  mqrpc replay   [flags] -topic T -since D     re-send stored calls, compare replies;
                 [-until T] [-to TOPIC]        only of idempotent methods unless -unsafe
                 [-method M] [-key K] [-status S] [-unsafe]
                 [-diff] [-qps N] [-dry-run] [-timeout D]

Common flags (every command; before or after its name: mqrpc -o json list):
  -namesrv ADDR   name server(s), comma-separated (default $MQRPC_NAMESRV or 127.0.0.1:9876)
  -cluster NAME   broker cluster (default DefaultCluster)
  -access-key K   access key for a cluster with ACL (default $MQRPC_ACCESS_KEY);
                  its secret is read from $MQRPC_SECRET_KEY only, to keep it
                  out of shell history and process lists
  -o text|json    output format (default text); with json, a failure prints
                  {"error": {"code", "exit_code", "message"}} on stdout

Run 'mqrpc COMMAND -h' for the flags of a command.

Exit codes: 0 ok; 1 usage or bad input; 2 cluster unreachable;
3 find: not found; 4 replay: a reply changed or a replay failed;
5 call: an OK reply the command cannot decode; 10+N a call failed with status N
(13 invalid_argument, 14 deadline_exceeded, 22 unimplemented, 24 unavailable).
`

// run is the whole command, callable from tests.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return (&env{stdout: stdout, stderr: stderr, clock: wallClock{}}).run(ctx, args)
}

func (e *env) run(ctx context.Context, args []string) int {
	stderr := e.stderr
	args, err := commonFlagsAfterCommand(args)
	if err != nil {
		fmt.Fprintf(stderr, "mqrpc: %v\n\n%s", err, usage)
		return exitUsage
	}
	if len(args) == 0 || args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stderr, usage)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	cmds := map[string]func(context.Context, *env, []string) int{
		"list":     cmdList,
		"describe": cmdDescribe,
		"call":     cmdCall,
		"find":     cmdFind,
		"replay":   cmdReplay,
	}
	cmd, ok := cmds[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "mqrpc: unknown command %q\n\n%s", args[0], usage)
		return exitUsage
	}
	e.name = args[0]
	code := cmd(ctx, e, args[1:])
	if code != exitOK && e.output == "json" && !e.printed {
		e.printJSON(jsonError{Error: jsonErrorBody{Code: exitName(code), Exit: code, Message: e.failure(code)}})
	}
	return code
}

// commonFlags are the flags every command takes, with whether each takes
// a value.
var commonFlags = map[string]bool{"namesrv": true, "cluster": true, "access-key": true, "o": true}

// commonFlagsAfterCommand moves common flags given before the command's
// name (mqrpc -o json list) after it, where the command parses them. Any
// other flag before the command is an error that says where it goes.
func commonFlagsAfterCommand(args []string) ([]string, error) {
	var moved []string
	i := 0
	for ; i < len(args) && strings.HasPrefix(args[i], "-") && args[i] != "-" && args[i] != "--"; i++ {
		name, _, hasValue := strings.Cut(strings.TrimLeft(args[i], "-"), "=")
		switch takesValue, common := commonFlags[name]; {
		case name == "h" || name == "help":
			return args, nil // usage
		case !common:
			return nil, fmt.Errorf("flag %s goes after the command's name (mqrpc COMMAND %s ...); only -namesrv, -cluster, -access-key and -o may come before it", args[i], args[i])
		case takesValue && !hasValue:
			if i+1 == len(args) {
				return nil, fmt.Errorf("flag %s needs a value", args[i])
			}
			moved = append(moved, args[i], args[i+1])
			i++
		default:
			moved = append(moved, args[i])
		}
	}
	if len(moved) == 0 {
		return args, nil
	}
	if i == len(args) {
		return nil, fmt.Errorf("no command after %s", strings.Join(moved, " "))
	}
	out := append([]string{args[i]}, moved...)
	return append(out, args[i+1:]...), nil
}

// jsonError is what a command prints on stdout with -o json when it fails
// without its own JSON answer, so that a script always has one object to
// read.
type jsonError struct {
	Error jsonErrorBody `json:"error"`
}

type jsonErrorBody struct {
	Code    string `json:"code"`      // exitName of Exit
	Exit    int    `json:"exit_code"` // the command's exit code
	Message string `json:"message"`
}

// exitName names an exit code for scripts: a status code's name for
// 10+N, else what the code means.
func exitName(code int) string {
	switch {
	case code >= exitStatusBase:
		return runtime.Code(code - exitStatusBase).String()
	case code == exitUsage:
		return "usage"
	case code == exitUnreachable:
		return "unreachable"
	case code == exitNotFound:
		return "not_found"
	case code == exitReplayDiffers:
		return "replay_differs"
	case code == exitUndecodable:
		return "undecodable_reply"
	}
	return "error"
}

// failure is the message of the command's failure: what fail or usageErr
// said, else the command's synopsis.
func (e *env) failure(code int) string {
	if e.errMsg != "" {
		return e.errMsg
	}
	if code == exitUsage {
		return fmt.Sprintf("usage: mqrpc %s %s", e.name, e.synopsis)
	}
	return fmt.Sprintf("mqrpc %s failed with exit code %d", e.name, code)
}

// env is what every command shares: output, common flags, connections.
type env struct {
	name           string
	stdout, stderr io.Writer
	namesrv        string
	cluster        string
	accessKey      string
	output         string
	fs             *flag.FlagSet
	synopsis       string
	clock          clock // what replay paces and measures by

	printed bool   // a JSON answer is on stdout
	errMsg  string // the last failure fail or usageErr reported
}

// flags returns the command's flag set with the common flags.
func (e *env) flags(synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet("mqrpc "+e.name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	def := os.Getenv("MQRPC_NAMESRV")
	if def == "" {
		def = "127.0.0.1:9876"
	}
	fs.StringVar(&e.namesrv, "namesrv", def, "name server `addresses`, comma-separated")
	fs.StringVar(&e.cluster, "cluster", "DefaultCluster", "broker cluster `name`")
	fs.StringVar(&e.accessKey, "access-key", os.Getenv("MQRPC_ACCESS_KEY"), "access `key` for a cluster with ACL; the secret comes from $MQRPC_SECRET_KEY")
	fs.StringVar(&e.output, "o", "text", "output `format`: text or json")
	fs.Usage = func() {
		fmt.Fprintf(e.stderr, "Usage: mqrpc %s %s\n\nFlags:\n", e.name, synopsis)
		fs.PrintDefaults()
	}
	e.fs, e.synopsis = fs, synopsis
	return fs
}

// parse parses the flags; it returns false with the exit code when the
// command must end.
func (e *env) parse(args []string) (int, bool) {
	if err := e.fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK, false
		}
		e.errMsg = err.Error()
		return exitUsage, false
	}
	if e.output != "text" && e.output != "json" {
		return e.usageErr("-o must be text or json, not %q", e.output), false
	}
	return 0, true
}

func (e *env) usageErr(format string, args ...any) int {
	return e.fail(exitUsage, format, args...)
}

func (e *env) fail(code int, format string, args ...any) int {
	e.errMsg = fmt.Sprintf(format, args...)
	fmt.Fprintf(e.stderr, "mqrpc %s: %s\n", e.name, e.errMsg)
	return code
}

func (e *env) config() rocketmq.Config {
	var ns []string
	for _, a := range strings.Split(e.namesrv, ",") {
		if a = strings.TrimSpace(a); a != "" {
			ns = append(ns, a)
		}
	}
	cfg := rocketmq.Config{NameServers: ns, Cluster: e.cluster, SendTimeout: 3 * time.Second}
	if e.accessKey != "" {
		cfg.AccessKey, cfg.SecretKey = e.accessKey, os.Getenv("MQRPC_SECRET_KEY")
	}
	return cfg
}

// client connects a transport and a client; close releases both.
func (e *env) client() (c *runtime.Client, cap *capture, close func(), err error) {
	tr, err := rocketmq.New(e.config())
	if err != nil {
		return nil, nil, nil, err
	}
	cap = &capture{Transport: tr}
	c, err = runtime.NewClient(cap)
	if err != nil {
		_ = tr.Close()
		return nil, nil, nil, err
	}
	return c, cap, func() { _ = c.Close(); _ = tr.Close() }, nil
}

func (e *env) printJSON(v any) {
	e.printed = true
	enc := json.NewEncoder(e.stdout)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// statusExit is the exit code of a call that ended with err.
func statusExit(err error) int {
	if err == nil {
		return exitOK
	}
	return exitStatusBase + int(runtime.CodeOf(err))
}

// capture is a transport that remembers the last request a client sent,
// for its call id.
type capture struct {
	runtime.Transport

	mu   sync.Mutex
	last *runtime.Message
}

// lastID returns the call id of the last request sent.
func (c *capture) lastID() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.last == nil {
		return ""
	}
	return c.last.Key
}

func (c *capture) Request(ctx context.Context, m *runtime.Message) error {
	c.record(m)
	return c.Transport.Request(ctx, m)
}

// Send is Request for one-way calls, whose ids are captured the same way.
func (c *capture) Send(ctx context.Context, m *runtime.Message) error {
	c.record(m)
	return c.Transport.Send(ctx, m)
}

func (c *capture) record(m *runtime.Message) {
	c.mu.Lock()
	c.last = m
	c.mu.Unlock()
}

// parseWindow reads the -since and -until flags of find and replay.
func parseWindow(since, until string, now time.Time) (from, to time.Time, err error) {
	if from, err = parseWhen(since, now); err != nil {
		return from, to, fmt.Errorf("-since: %w", err)
	}
	if to, err = parseWhen(until, now); err != nil {
		return from, to, fmt.Errorf("-until: %w", err)
	}
	return from, to, nil
}

// parseWhen reads a -since/-until value: an RFC 3339 time, or a duration
// before now ("10m").
func parseWhen(s string, now time.Time) (time.Time, error) {
	if s == "" || s == "now" {
		return now, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		return now.Add(-d), nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is neither a duration before now (10m) nor an RFC 3339 time", s)
	}
	return t, nil
}
