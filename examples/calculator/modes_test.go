package main

// The server and client modes of the program, as make demo runs them, over
// a real RocketMQ broker. They need the broker's name server in
// MQRPC_NAMESRV (`make broker-up`); under CI=true they fail rather than
// skip without it.
//
// The program is this test binary run again with MQRPC_TEST_PROGRAM set
// (see TestMain), which runs main with the arguments it is given: the real
// modes, flags, signal handling and exit status.

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mqrpc/mqrpc/runtime/rocketmq/rocketmqtest"
)

const envProgram = "MQRPC_TEST_PROGRAM" // run main instead of the tests

// program is the calculator program with args.
func program(args ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), envProgram+"=1")
	return cmd
}

// runningProgram is the program running in server mode.
type runningProgram struct {
	cmd    *exec.Cmd
	lines  chan string // stdout, closed at its end
	stderr bytes.Buffer
	exited chan struct{}
	err    error // from Wait, once exited is closed
}

// startProgram starts the program with args and reads its stdout by line;
// it is killed when the test ends if it is still running.
func startProgram(t *testing.T, args ...string) *runningProgram {
	t.Helper()
	p := &runningProgram{cmd: program(args...), lines: make(chan string, 16), exited: make(chan struct{})}
	p.cmd.Stderr = &p.stderr
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %v: %v", args, err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
		close(p.lines)
		p.err = p.cmd.Wait() // after the last read, as StdoutPipe requires
		close(p.exited)
	}()
	t.Cleanup(p.kill)
	return p
}

// kill ends the program if it is still running and waits until it has.
func (p *runningProgram) kill() {
	select {
	case <-p.exited:
	default:
		_ = p.cmd.Process.Kill()
		for range p.lines {
		}
		<-p.exited
	}
}

// fatal ends the test with what the program wrote to stderr, which is
// complete once it has exited.
func (p *runningProgram) fatal(t *testing.T, format string, args ...any) {
	t.Helper()
	p.kill()
	t.Fatalf("%s; server stderr:\n%s", fmt.Sprintf(format, args...), p.stderr.String())
}

// firstLine waits for the program's first line of output.
func (p *runningProgram) firstLine(t *testing.T) string {
	t.Helper()
	select {
	case line, ok := <-p.lines:
		if !ok {
			<-p.exited
			p.fatal(t, "server exited without output (%v)", p.err)
		}
		return line
	case <-time.After(60 * time.Second):
		p.fatal(t, "server printed nothing within 60s")
	}
	return ""
}

// stop signals the program and waits for it to exit. It must exit with
// status 0 and no further output.
func (p *runningProgram) stop(t *testing.T, sig os.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signal %v: %v", sig, err)
	}
	var rest []string
	timeout := time.After(60 * time.Second)
	for lines := p.lines; lines != nil; {
		select {
		case line, ok := <-lines:
			if !ok {
				lines = nil
				continue
			}
			rest = append(rest, line)
		case <-timeout:
			p.fatal(t, "server still running 60s after %v", sig)
		}
	}
	<-p.exited
	if p.err != nil {
		t.Errorf("server after %v: %v; stderr:\n%s", sig, p.err, p.stderr.String())
	}
	if len(rest) > 0 {
		t.Errorf("server printed after %v:\n%s", sig, strings.Join(rest, "\n"))
	}
}

// latencyLine is what the client prints after each call.
var latencyLine = regexp.MustCompile(`^  /calculator\.Calculator/(\w+) +\d+\.\d\d ms$`)

// The server mode serves until SIGTERM or SIGINT and then exits cleanly;
// the client mode, in another process, calls every method through the
// broker and prints the results and each call's latency.
func TestServerAndClientModes(t *testing.T) {
	ns := rocketmqtest.NameServer(t)
	for _, sig := range []os.Signal{syscall.SIGTERM, os.Interrupt} {
		t.Run(sig.String(), func(t *testing.T) {
			topic := uniqueTopic(t) // a consumer group of its own, too
			srv := startProgram(t, "-namesrv", ns, "-topic", topic, "server")
			if got, want := srv.firstLine(t), fmt.Sprintf("serving calculator.Calculator on topic %s via %s", topic, ns); got != want {
				srv.fatal(t, "server printed %q, want %q", got, want)
			}

			client := program("-namesrv", ns, "-topic", topic, "-timeout", "30s", "client", "9", "4")
			var stderr bytes.Buffer
			client.Stderr = &stderr
			out, err := client.Output()
			if err != nil {
				srv.fatal(t, "client: %v; stderr:\n%s\nstdout:\n%s", err, stderr.String(), out)
			}
			var results, calls []string
			for line := range strings.Lines(string(out)) {
				line = strings.TrimSuffix(line, "\n")
				if m := latencyLine.FindStringSubmatch(line); m != nil {
					calls = append(calls, m[1])
				} else {
					results = append(results, line)
				}
			}
			wantResults := []string{
				"9 + 4 = 13",
				"9 - 4 = 5",
				"9 * 4 = 36",
				"9 / 4 = 2 remainder 1",
				"9 / 0 fails: invalid_argument: division of 9 by zero",
				"stats of operands: count 2, sum 13, min 4, max 9, mean 6.5",
			}
			if !slices.Equal(results, wantResults) {
				t.Errorf("client results:\n%s\nwant:\n%s", strings.Join(results, "\n"), strings.Join(wantResults, "\n"))
			}
			if want := []string{"Add", "Sub", "Mul", "Div", "Div", "Stats"}; !slices.Equal(calls, want) {
				t.Errorf("client timed calls %v, want %v; output:\n%s", calls, want, out)
			}

			srv.stop(t, sig)
		})
	}
}

// A client with no server to answer exits with status 1 and says why.
func TestClientModeWithoutServerFails(t *testing.T) {
	ns := rocketmqtest.NameServer(t)
	client := program("-namesrv", ns, "-topic", uniqueTopic(t), "-timeout", "2s", "client")
	out, err := client.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("client with no server: %v, want exit status 1; output:\n%s", err, out)
	}
	if want := "calculator: Add: deadline_exceeded"; !strings.Contains(string(out), want) {
		t.Errorf("output lacks %q:\n%s", want, out)
	}
}
