package interop_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mqrpc/mqrpc/internal/testenv"
)

// The Java programs live in java/ (a Maven project); wireDir holds the
// golden vectors both sides check.
const (
	javaDir = "java"
	wireDir = "../testdata/wire"
)

// nameServer returns MQRPC_NAMESRV, the local broker's name server
// (`tools/rocketmq/broker.sh up --second`).
func nameServer(t testing.TB) string {
	t.Helper()
	addr := os.Getenv("MQRPC_NAMESRV")
	if addr == "" {
		testenv.Missing(t, "MQRPC_NAMESRV is not set; run `make broker-up` and export MQRPC_NAMESRV=127.0.0.1:9876")
	}
	return addr
}

// unique returns a name no earlier run used, for topics and groups, so that
// a run never sees another's stale messages.
func unique(prefix string) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s_%d_%s", prefix, time.Now().Unix(), hex.EncodeToString(b[:]))
}

var javaBuild struct {
	once sync.Once
	cp   string
	err  error
}

// javaClasspath builds the Java side when it is missing or older than its
// sources or the vectors (mvn package, which runs the JUnit vector test
// too) and returns the classpath to run it with.
func javaClasspath(t testing.TB) string {
	t.Helper()
	for _, tool := range []string{"java", "mvn"} {
		if _, err := exec.LookPath(tool); err != nil {
			testenv.Missing(t, "%s is not installed; the interop tests need a JDK 17 and Maven", tool)
		}
	}
	javaBuild.once.Do(func() { javaBuild.cp, javaBuild.err = buildJava() })
	if javaBuild.err != nil {
		t.Fatal(javaBuild.err)
	}
	return javaBuild.cp
}

func buildJava() (string, error) {
	dir, err := filepath.Abs(javaDir)
	if err != nil {
		return "", err
	}
	stamp := filepath.Join(dir, "target", "mqrpc-interop.stamp")
	cp := filepath.Join(dir, "target", "classes") + string(os.PathListSeparator) + filepath.Join(dir, "target", "lib", "*")
	built, err := os.Stat(stamp)
	if err == nil {
		newest, err := newestModTime(filepath.Join(dir, "pom.xml"), filepath.Join(dir, "src"), wireDir)
		if err != nil {
			return "", err
		}
		if !newest.After(built.ModTime()) {
			return cp, nil
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	start := time.Now()
	cmd := exec.CommandContext(ctx, "mvn", "-q", "-B", "-f", filepath.Join(dir, "pom.xml"), "package")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("building the Java side (mvn -q -B -f interop/java/pom.xml package): %v\n%s", err, out)
	}
	fmt.Fprintf(os.Stderr, "interop: built the Java side in %v\n", time.Since(start).Round(time.Millisecond))
	if err := os.WriteFile(stamp, []byte(start.Format(time.RFC3339)+"\n"), 0o644); err != nil {
		return "", err
	}
	// The stamp's time is the build's start, so a source edited during
	// the build makes the next run build again.
	return cp, os.Chtimes(stamp, start, start)
}

func newestModTime(paths ...string) (time.Time, error) {
	var newest time.Time
	for _, p := range paths {
		err := filepath.WalkDir(p, func(_ string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			info, err := d.Info()
			if err != nil {
				return err
			}
			if info.ModTime().After(newest) {
				newest = info.ModTime()
			}
			return nil
		})
		if err != nil {
			return time.Time{}, err
		}
	}
	return newest, nil
}

// javaCommand returns `java ... io.mqrpc.interop.Main args...`, its client
// log kept in a temporary directory.
func javaCommand(ctx context.Context, t testing.TB, args ...string) *exec.Cmd {
	t.Helper()
	cp := javaClasspath(t)
	jargs := append([]string{
		"-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
		"-Drocketmq.client.logRoot=" + t.TempDir(),
		"-Drocketmq.client.logLevel=WARN",
		"-cp", cp, "io.mqrpc.interop.Main",
	}, args...)
	cmd := exec.CommandContext(ctx, "java", jargs...)
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// line is one JSON line a Java program wrote.
type line map[string]any

func (l line) str(key string) string {
	v, _ := l[key].(string)
	return v
}

// properties returns the "properties" object of a line.
func (l line) properties() map[string]string {
	out := map[string]string{}
	m, _ := l["properties"].(map[string]any)
	for k, v := range m {
		out[k] = fmt.Sprint(v)
	}
	return out
}

// jsonOf re-encodes a decoded JSON value, for comparisons.
func jsonOf(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// decodeJSON decodes s as parseLine decodes values.
func decodeJSON(t testing.TB, s string) any {
	t.Helper()
	var v any
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	if err := d.Decode(&v); err != nil {
		t.Fatalf("%s: %v", s, err)
	}
	return v
}

// parseLines returns the JSON lines of out; anything else a library
// printed is ignored.
func parseLines(t testing.TB, out []byte) []line {
	t.Helper()
	var lines []line
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if l, ok := parseLine(sc.Text()); ok {
			lines = append(lines, l)
		}
	}
	return lines
}

func parseLine(s string) (line, bool) {
	if !strings.HasPrefix(s, "{") {
		return nil, false
	}
	var l line
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	if err := d.Decode(&l); err != nil {
		return nil, false
	}
	return l, true
}

// runJava runs a Java program to its end and returns its JSON lines.
func runJava(t testing.TB, timeout time.Duration, args ...string) []line {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := javaCommand(ctx, t, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	out, err := cmd.Output()
	t.Logf("java %s: %v", args[0], time.Since(start).Round(time.Millisecond))
	if err != nil {
		t.Fatalf("java %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, out, stderr.String())
	}
	return parseLines(t, out)
}

// javaProcess is a Java program that runs alongside a test.
type javaProcess struct {
	lines chan line
	stdin io.WriteCloser
}

// startJava starts a long-running Java program, which ends when the test
// does (its stdin is closed, then it is killed if it lingers).
func startJava(t testing.TB, args ...string) *javaProcess {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := javaCommand(ctx, t, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start java %s: %v", args[0], err)
	}
	p := &javaProcess{lines: make(chan line, 100), stdin: stdin}
	scanned := make(chan struct{})
	go func() {
		defer close(scanned)
		defer close(p.lines)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			if l, ok := parseLine(sc.Text()); ok {
				p.lines <- l
			}
		}
	}()
	t.Cleanup(func() {
		_ = stdin.Close()
		exited := make(chan error, 1)
		go func() {
			for range p.lines { // drain, so the scanner never blocks
			}
			<-scanned
			exited <- cmd.Wait()
		}()
		select {
		case err := <-exited:
			if err != nil {
				t.Logf("java %s exited: %v\n%s", args[0], err, stderr.String())
			}
		case <-time.After(30 * time.Second):
			cancel()
			t.Errorf("java %s did not exit within 30 s of its stdin closing; killed\n%s", args[0], stderr.String())
			<-exited
		}
		cancel()
	})
	return p
}

// next returns the next line of p for which match holds, failing the test
// at the timeout.
func (p *javaProcess) next(t testing.TB, timeout time.Duration, what string, match func(line) bool) line {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case l, ok := <-p.lines:
			if !ok {
				t.Fatalf("java exited before %s", what)
			}
			if match(l) {
				return l
			}
			if l.str("event") == "error" {
				t.Errorf("java: %v", l["error"])
			}
		case <-deadline:
			t.Fatalf("no %s from java within %v", what, timeout)
		}
	}
}
