package bench

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2/rlog"

	"github.com/mqrpc/mqrpc/internal/testenv"
	"github.com/mqrpc/mqrpc/runtime/rocketmq"
)

// Environment of the benchmarks.
const (
	envNameServer = "MQRPC_NAMESRV"     // name server of the broker; RocketMQ benchmarks skip without it (fail under CI=true)
	envServe      = "MQRPC_BENCH_SERVE" // set in the server child process: the run id
	envSoakCalls  = "MQRPC_BENCH_SOAK_CALLS"
	envJavaDir    = "MQRPC_BENCH_JAVA" // the built tools/bench/java directory; default ../tools/bench/java
)

// runID makes this run's topics and groups its own, so that messages left
// by an earlier run never reach it.
var runID = strconv.FormatInt(time.Now().UnixNano()%1e12, 36)

// topics of one run.
type topics struct{ echo, calc, raw, hold, java string }

func topicsOf(id string) topics {
	p := "bench_" + id + "_"
	return topics{echo: p + "echo", calc: p + "calc", raw: p + "raw", hold: p + "hold", java: p + "java"}
}

func TestMain(m *testing.M) {
	rlog.SetLogLevel("fatal")
	if id := os.Getenv(envServe); id != "" {
		if err := serve(id); err != nil {
			log.Fatal(err)
		}
		os.Exit(0)
	}
	code := m.Run()
	stopChildren()
	os.Exit(code)
}

// nameServer returns the broker's name server, or skips b (fails it under CI).
func nameServer(b *testing.B) string {
	b.Helper()
	ns := os.Getenv(envNameServer)
	if ns == "" {
		testenv.Missing(b, "%s is not set; `make broker-up` and export MQRPC_NAMESRV=127.0.0.1:9876", envNameServer)
	}
	return ns
}

var (
	childMu  sync.Mutex
	children []*exec.Cmd
	stdins   []io.Closer
)

// startChild runs cmd, waits for a line starting with "ready" on its stdout
// and returns that line. The child ends when its stdin closes (stopChildren).
func startChild(cmd *exec.Cmd) (string, error) {
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return "", err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return "", err
	}
	if err := cmd.Start(); err != nil {
		return "", err
	}
	childMu.Lock()
	children = append(children, cmd)
	stdins = append(stdins, in)
	childMu.Unlock()
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "ready") {
				ready <- sc.Text()
			}
		}
		close(ready)
	}()
	select {
	case line, ok := <-ready:
		if !ok {
			return "", fmt.Errorf("%s exited before it was ready", cmd.Path)
		}
		return line, nil
	case <-time.After(90 * time.Second):
		return "", fmt.Errorf("%s not ready after 90 s", cmd.Path)
	}
}

func stopChildren() {
	childMu.Lock()
	defer childMu.Unlock()
	for _, in := range stdins {
		_ = in.Close()
	}
	for _, c := range children {
		done := make(chan struct{})
		go func() { _ = c.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = c.Process.Kill()
			<-done
		}
	}
	children, stdins = nil, nil
}

// server is the child process that serves the RocketMQ and gRPC paths, so
// that the benchmark process holds only clients: its allocations and
// memory are the clients'.
var server struct {
	once     sync.Once
	err      error
	grpcAddr string
	topics   topics
}

func ensureServer(b *testing.B) {
	b.Helper()
	ns := nameServer(b)
	server.once.Do(func() {
		server.topics = topicsOf(runID)
		t := server.topics
		if server.err = createTopics(ns, t.echo, t.calc, t.raw, t.hold, t.java); server.err != nil {
			return
		}
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), envServe+"="+runID)
		line, err := startChild(cmd)
		if err != nil {
			server.err = err
			return
		}
		server.grpcAddr = strings.TrimSpace(strings.TrimPrefix(line, "ready"))
	})
	if server.err != nil {
		b.Fatalf("benchmark server: %v", server.err)
	}
}

// createTopics creates topics with 4 queues on every broker of the
// cluster, as the mqrpc transport does for its servers, so that every path
// sends to the same kind of topic.
func createTopics(ns string, names ...string) error {
	tr, err := rocketmq.New(rocketmq.Config{NameServers: []string{ns}, TopicQueues: 4})
	if err != nil {
		return err
	}
	defer tr.Close()
	for _, name := range names {
		if err := tr.CreateTopic(name); err != nil {
			return err
		}
	}
	return nil
}

var javaSkipNote sync.Once

// java is the Java driver process, fed commands on stdin.
var java struct {
	once sync.Once
	err  error
	in   io.Writer
	out  *bufio.Scanner
	mu   sync.Mutex
}

type javaResult struct {
	N         int   `json:"n"`
	ElapsedNs int64 `json:"elapsed_ns"`
	P50Ns     int64 `json:"p50_ns"`
	P90Ns     int64 `json:"p90_ns"`
	P99Ns     int64 `json:"p99_ns"`
	Errors    int   `json:"errors"`
}

func ensureJava(b *testing.B) {
	b.Helper()
	ensureServer(b)
	dir := os.Getenv(envJavaDir)
	if dir == "" {
		dir = filepath.Join("..", "tools", "bench", "java")
	}
	classes := filepath.Join(dir, "target", "classes")
	if _, err := os.Stat(filepath.Join(classes, "io", "mqrpc", "bench", "Bench.class")); err != nil {
		if testenv.InCI() {
			b.Fatalf("Java bench not built (%v): mvn -q -B -f tools/bench/java/pom.xml package -DskipTests", err)
		}
		javaSkipNote.Do(func() {
			// Skips are silent without -v; a missing Java column should not be.
			fmt.Fprintf(os.Stderr, "bench: Java benchmarks skipped, %s not built (mvn -q -B -f tools/bench/java/pom.xml package -DskipTests, or set %s)\n", dir, envJavaDir)
		})
		b.Skipf("Java bench not built: mvn -q -B -f tools/bench/java/pom.xml package -DskipTests")
	}
	ns := nameServer(b)
	java.once.Do(func() {
		cp := classes + string(os.PathListSeparator) + filepath.Join(dir, "target", "lib", "*")
		jvm := []string{"-Xms256m", "-Xmx512m", "-Drocketmq.client.logUseSlf4j=false", "-Drocketmq.client.logLevel=ERROR", "-cp", cp, "io.mqrpc.bench.Bench"}
		group := "bench_" + runID + "_java"
		if _, java.err = startChild(exec.Command("java", append(jvm, "reply", ns, server.topics.java, group+"_server")...)); java.err != nil {
			return
		}
		cmd := exec.Command("java", append(jvm, "drive", ns, server.topics.java, group+"_client")...)
		cmd.Stderr = os.Stderr
		in, err := cmd.StdinPipe()
		if err != nil {
			java.err = err
			return
		}
		out, err := cmd.StdoutPipe()
		if err != nil {
			java.err = err
			return
		}
		if java.err = cmd.Start(); java.err != nil {
			return
		}
		childMu.Lock()
		children = append(children, cmd)
		stdins = append(stdins, in)
		childMu.Unlock()
		java.in = in
		java.out = bufio.NewScanner(out)
		java.out.Buffer(make([]byte, 64<<10), 1<<20)
		for java.out.Scan() {
			if strings.HasPrefix(java.out.Text(), "ready") {
				return
			}
		}
		java.err = fmt.Errorf("java driver exited before it was ready")
	})
	if java.err != nil {
		b.Fatalf("java: %v", java.err)
	}
}

// runJava has the Java driver make n calls of size bytes (-1: Add) from
// conc threads.
func runJava(size, conc, n int) (javaResult, error) {
	java.mu.Lock()
	defer java.mu.Unlock()
	var r javaResult
	if _, err := fmt.Fprintf(java.in, "run %d %d %d\n", size, conc, n); err != nil {
		return r, err
	}
	for java.out.Scan() {
		line := java.out.Text()
		if strings.HasPrefix(line, "{") {
			return r, json.Unmarshal([]byte(line), &r)
		}
	}
	return r, fmt.Errorf("java driver ended: %v", java.out.Err())
}

// latencies records the duration of each call for percentiles.
type latencies []time.Duration

func (l latencies) report(b *testing.B, elapsed time.Duration, calls int) {
	if len(l) > 0 {
		s := slices.Clone(l)
		slices.Sort(s)
		for _, p := range []int{50, 90, 99} {
			b.ReportMetric(float64(s[pctIndex(len(s), p)])/1e6, fmt.Sprintf("p%d-ms", p))
		}
	}
	if elapsed > 0 {
		b.ReportMetric(float64(calls)/elapsed.Seconds(), "calls/s")
	}
}

func pctIndex(n, p int) int {
	i := (p*n+99)/100 - 1
	return min(max(i, 0), n-1)
}

// memStats is the process's memory: live heap after a GC, and RSS.
type memStats struct{ heap, rss uint64 }

func measureMem(gc bool) memStats {
	if gc {
		goruntime.GC()
		debug.FreeOSMemory()
	}
	var ms goruntime.MemStats
	goruntime.ReadMemStats(&ms)
	return memStats{heap: ms.HeapInuse, rss: rss()}
}

// rss is VmRSS of this process, from /proc/self/status.
func rss() uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

const mb = 1 << 20
