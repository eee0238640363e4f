package bench

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mqrpc/mqrpc/bench/echo"
)

// payloads of the latency benchmark; size -1 is Add(2, 3).
var payloads = []struct {
	name string
	size int
}{{"add", -1}, {"64B", 64}, {"1KB", 1 << 10}, {"64KB", 64 << 10}, {"1MB", 1 << 20}}

var allPaths = append(goPaths[:2:2], append([]string{"java"}, goPaths[2:]...)...)

// callTimeout bounds every call of the latency and throughput benchmarks.
const callTimeout = 30 * time.Second

// BenchmarkLatency makes one call at a time: p50/p90/p99-ms are the
// percentiles of the round trips, calls/s their rate at concurrency 1.
func BenchmarkLatency(b *testing.B) {
	for _, pl := range payloads {
		for _, name := range allPaths {
			b.Run("payload="+pl.name+"/path="+name, func(b *testing.B) {
				if name == "java" {
					benchJava(b, pl.size, 1)
					return
				}
				p := getPath(b, name)
				body := payload(max(pl.size, 0))
				ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
				defer cancel()
				lat := make(latencies, 0, min(b.N, 1<<20))
				b.SetBytes(int64(max(pl.size, 0)))
				b.ReportAllocs()
				b.ResetTimer()
				start := time.Now()
				for range b.N {
					t0 := time.Now()
					if err := call(ctx, p, pl.size, body); err != nil {
						b.Fatal(err)
					}
					if len(lat) < cap(lat) {
						lat = append(lat, time.Since(t0))
					}
				}
				elapsed := time.Since(start)
				b.StopTimer()
				lat.report(b, elapsed, b.N)
			})
		}
	}
}

// payload returns n pseudo-random bytes, the same on every call. Random
// bytes do not compress, so no path gains from the compression that
// rocketmq-client-go and the Java client apply by default to bodies over
// 4 KiB (mqrpc does not compress), as no real payload would gain as much
// as a repeated byte. The first byte is 'x': echo.Server treats some
// first bytes as instructions.
func payload(n int) []byte {
	b := make([]byte, n)
	r := rand.New(rand.NewChaCha8([32]byte{'m', 'q', 'r', 'p', 'c'}))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	if n > 0 {
		b[0] = 'x'
	}
	return b
}

func call(ctx context.Context, p *path, size int, body []byte) error {
	if size < 0 {
		return p.add(ctx)
	}
	out, err := p.echo(ctx, body)
	if err == nil && len(out) != len(body) {
		err = fmt.Errorf("echo of %d bytes returned %d", len(body), len(out))
	}
	return err
}

// BenchmarkThroughput makes 1 KB echo calls from conc goroutines at once.
func BenchmarkThroughput(b *testing.B) {
	const size = 1 << 10
	for _, conc := range []int{1, 16, 64} {
		for _, name := range allPaths {
			b.Run(fmt.Sprintf("conc=%d/path=%s", conc, name), func(b *testing.B) {
				if name == "java" {
					benchJava(b, size, conc)
					return
				}
				p := getPath(b, name)
				body := payload(size)
				ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
				defer cancel()
				lat := make([]time.Duration, b.N)
				var next atomic.Int64
				var failed atomic.Pointer[error]
				var wg sync.WaitGroup
				b.ReportAllocs()
				b.ResetTimer()
				start := time.Now()
				for range conc {
					wg.Go(func() {
						for i := next.Add(1) - 1; i < int64(b.N); i = next.Add(1) - 1 {
							t0 := time.Now()
							if err := call(ctx, p, size, body); err != nil {
								failed.CompareAndSwap(nil, &err)
								return
							}
							lat[i] = time.Since(t0)
						}
					})
				}
				wg.Wait()
				elapsed := time.Since(start)
				b.StopTimer()
				if err := failed.Load(); err != nil {
					b.Fatal(*err)
				}
				latencies(lat).report(b, elapsed, b.N)
			})
		}
	}
}

// benchJava has the Java driver make b.N calls and reports what it measured.
func benchJava(b *testing.B, size, conc int) {
	ensureJava(b)
	b.ResetTimer()
	r, err := runJava(size, conc, b.N)
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}
	if r.Errors > 0 {
		b.Fatalf("java: %d of %d calls failed", r.Errors, r.N)
	}
	b.ReportMetric(float64(r.P50Ns)/1e6, "p50-ms")
	b.ReportMetric(float64(r.P90Ns)/1e6, "p90-ms")
	b.ReportMetric(float64(r.P99Ns)/1e6, "p99-ms")
	b.ReportMetric(float64(r.N)/(float64(r.ElapsedNs)/1e9), "calls/s")
}

// BenchmarkPending measures the client's memory while 10,000 calls (1,000
// with -short) wait for replies that do not come before their deadline: the
// RocketMQ paths send to a topic no server consumes, gRPC's server holds
// the calls until their deadline. One round per b.N.
func BenchmarkPending(b *testing.B) {
	n := 10_000
	if testing.Short() {
		n = 1_000
	}
	for _, name := range goPaths {
		if name == "direct" {
			continue
		}
		b.Run("path="+name, func(b *testing.B) {
			p := getPath(b, name)
			for range b.N {
				before := measureMem(true)
				const hold = 10 * time.Second
				ctx, cancel := context.WithTimeout(context.Background(), hold)
				var started, ended atomic.Int64
				var wg sync.WaitGroup
				for range n {
					wg.Go(func() {
						started.Add(1)
						_ = p.hold(ctx)
						ended.Add(1)
					})
				}
				// Measure once every call is sent and waiting: the
				// goroutines have started and the sends are given time.
				for started.Load() < int64(n) {
					time.Sleep(10 * time.Millisecond) // polling a counter, bounded by the deadline below
				}
				time.Sleep(3 * time.Second) // sends of 10,000 messages; the calls hold for 10 s
				during := measureMem(true)
				early := ended.Load()
				cancel()
				wg.Wait()
				b.ReportMetric(float64(during.rss-min(during.rss, before.rss))/mb, "pending-RSS-MB")
				b.ReportMetric(float64(during.heap-min(during.heap, before.heap))/mb, "pending-heap-MB")
				b.ReportMetric(float64(during.heap-min(during.heap, before.heap))/float64(n)/1024, "heap-KB/call")
				b.ReportMetric(float64(early), "ended-early")
			}
		})
	}
}

// BenchmarkSoak makes 100,000 calls (MQRPC_BENCH_SOAK_CALLS; 1,000 with
// -short) of 64 bytes from 64 goroutines; every tenth gets a 100 ms
// deadline and a payload the server answers after 300 ms, so it times out
// and its reply comes late. It reports the client's heap (after GC) and
// RSS before, at the peak during and 2 s after the soak.
func BenchmarkSoak(b *testing.B) {
	n := 100_000
	if testing.Short() {
		n = 1_000
	}
	if v, err := strconv.Atoi(os.Getenv(envSoakCalls)); err == nil && v > 0 {
		n = v
	}
	for _, name := range goPaths {
		if name == "direct" {
			continue
		}
		b.Run("path="+name, func(b *testing.B) {
			p := getPath(b, name)
			for range b.N {
				soak(b, p, n)
			}
		})
	}
}

func soak(b *testing.B, p *path, n int) {
	fast := bytes.Repeat([]byte{'x'}, 64)
	slow := bytes.Repeat([]byte{echo.SlowMark}, 64)
	before := measureMem(true)

	var peak memStats
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			m := measureMem(false)
			peak.heap, peak.rss = max(peak.heap, m.heap), max(peak.rss, m.rss)
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()

	var next, timeouts, failures atomic.Int64
	var firstFailure atomic.Pointer[error]
	var wg sync.WaitGroup
	start := time.Now()
	for range 64 {
		wg.Go(func() {
			for i := next.Add(1) - 1; i < int64(n); i = next.Add(1) - 1 {
				body, d := fast, 10*time.Second
				if i%10 == 9 {
					body, d = slow, 100*time.Millisecond
				}
				ctx, cancel := context.WithTimeout(context.Background(), d)
				_, err := p.echo(ctx, body)
				cancel()
				switch {
				case err == nil:
				case i%10 == 9:
					timeouts.Add(1)
				default:
					failures.Add(1)
					firstFailure.CompareAndSwap(nil, &err)
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if err := firstFailure.Load(); err != nil {
		b.Logf("%d calls failed that should not have, the first with: %v", failures.Load(), *err)
	}
	close(stop)
	<-sampled
	// Late replies arrive up to 300 ms after their calls gave up.
	for t := time.Now(); !p.settled() && time.Since(t) < 5*time.Second; {
		time.Sleep(50 * time.Millisecond) // polling, bounded
	}
	time.Sleep(2 * time.Second)
	after := measureMem(true)
	b.ReportMetric(float64(n)/elapsed.Seconds(), "calls/s")
	b.ReportMetric(float64(timeouts.Load()), "timeouts")
	b.ReportMetric(float64(failures.Load()), "failures")
	b.ReportMetric(float64(before.heap)/mb, "heap-before-MB")
	b.ReportMetric(float64(peak.heap)/mb, "heap-peak-MB")
	b.ReportMetric(float64(after.heap)/mb, "heap-after-MB")
	b.ReportMetric(float64(before.rss)/mb, "RSS-before-MB")
	b.ReportMetric(float64(peak.rss)/mb, "RSS-peak-MB")
	b.ReportMetric(float64(after.rss)/mb, "RSS-after-MB")
}
