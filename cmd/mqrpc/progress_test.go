package main

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestRenderProgress(t *testing.T) {
	tests := []struct {
		name        string
		done, total int
		elapsed     time.Duration
		width       int
		want        string
	}{
		{"start, no rate yet", 0, 100, 0, 0, "replayed   0/100    0%  -/s  ETA -"},
		{"plain line", 45, 100, 4500 * time.Millisecond, 0, "replayed  45/100   45%  10.0/s  ETA 5.5s"},
		{"bar", 45, 100, 4500 * time.Millisecond, 80,
			"[=============>                ] replayed  45/100   45%  10.0/s  ETA 5.5s       "},
		{"bar, done", 100, 100, 20 * time.Second, 80,
			"[==============================] replayed 100/100  100%  5.0/s  took 20s        "},
		{"long ETA rounds to the second", 1, 1000, 1500 * time.Millisecond, 0,
			"replayed    1/1000    0%  0.7/s  ETA 24m59s"},
		{"too narrow for a bar", 45, 100, 4500 * time.Millisecond, 59, "replayed  45/100   45%  10.0/s  ETA 5.5s"},
		{"no calls", 0, 0, 0, 0, "replayed 0/0  100%  -/s  took 0s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := renderProgress(tt.done, tt.total, tt.elapsed, tt.width)
			if got != tt.want {
				t.Errorf("renderProgress(%d, %d, %v, %d)\n got %q\nwant %q", tt.done, tt.total, tt.elapsed, tt.width, got, tt.want)
			}
			if tt.width > 0 && len(got) > tt.width {
				t.Errorf("%d columns, wider than %d", len(got), tt.width)
			}
		})
	}
}

// The bar fills with the percentage, whatever the width.
func TestRenderProgressBarFills(t *testing.T) {
	for _, width := range []int{70, 100, 200} {
		var prev int
		for done := 0; done <= 50; done++ {
			line := renderProgress(done, 50, time.Duration(done)*time.Second, width)
			if len(line) != width {
				t.Fatalf("width %d, %d/50: %d columns: %q", width, done, len(line), line)
			}
			bar, _, ok := strings.Cut(line[1:], "]")
			if !ok {
				t.Fatalf("no bar: %q", line)
			}
			fill := strings.Count(bar, "=")
			if fill < prev || (done == 50) != (fill == len(bar)) {
				t.Errorf("width %d, %d/50: fill %d of %d after %d", width, done, fill, len(bar), prev)
			}
			prev = fill
		}
	}
}

// fakeClock is a clock whose time moves only when something sleeps on it
// or the test advances it.
type fakeClock struct {
	mu    sync.Mutex
	now   time.Time
	slept []time.Duration
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.slept = append(c.slept, d)
	c.now = c.now.Add(d)
	return ctx.Err()
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func (c *fakeClock) sleeps() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.slept...)
}

func TestPacerSpacesSendsAtTheRate(t *testing.T) {
	c := newFakeClock()
	p := newPacer(c, 4) // 250 ms apart
	ctx := context.Background()
	var sends []time.Duration
	start := c.Now()
	// Sends that take 100 ms, 0, 400 ms (longer than the interval), 0.
	for _, took := range []time.Duration{100 * time.Millisecond, 0, 400 * time.Millisecond, 0, 0} {
		if err := p.wait(ctx); err != nil {
			t.Fatal(err)
		}
		sends = append(sends, c.Now().Sub(start))
		c.advance(took)
	}
	want := []time.Duration{0, 250 * time.Millisecond, 500 * time.Millisecond, 900 * time.Millisecond, 1150 * time.Millisecond}
	if !slices.Equal(sends, want) {
		t.Errorf("sends at %v, want %v", sends, want)
	}
	// No wait before the first send, nor after the slow one.
	if got, want := c.sleeps(), []time.Duration{150 * time.Millisecond, 250 * time.Millisecond, 250 * time.Millisecond}; !slices.Equal(got, want) {
		t.Errorf("waits %v, want %v", got, want)
	}
}

func TestPacerStopsWithItsContext(t *testing.T) {
	c := newFakeClock()
	p := newPacer(c, 1)
	ctx, cancel := context.WithCancel(context.Background())
	if err := p.wait(ctx); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := p.wait(ctx); err != context.Canceled {
		t.Errorf("wait after cancel: %v, want context.Canceled", err)
	}
}
