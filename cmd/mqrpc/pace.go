package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
)

// clock is the time replay paces and measures by; tests give a fake one.
type clock interface {
	Now() time.Time
	// Sleep waits for d, or until ctx ends and then returns its error.
	Sleep(ctx context.Context, d time.Duration) error
}

type wallClock struct{}

func (wallClock) Now() time.Time { return time.Now() }

func (wallClock) Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// pacer spaces sends 1/qps apart: each send waits until one interval
// after the one before it. A send that took longer than the interval is
// not made up for with a burst.
type pacer struct {
	clock    clock
	interval time.Duration
	next     time.Time // earliest time of the next send; zero before the first
}

func newPacer(c clock, qps float64) *pacer {
	return &pacer{clock: c, interval: time.Duration(float64(time.Second) / qps)}
}

// wait returns when the next send may go.
func (p *pacer) wait(ctx context.Context) error {
	now := p.clock.Now()
	if !p.next.IsZero() && now.Before(p.next) {
		if err := p.clock.Sleep(ctx, p.next.Sub(now)); err != nil {
			return err
		}
		// From the time the send was due, so that a late wake-up
		// does not slow the rest down.
		now = p.next
	}
	p.next = now.Add(p.interval)
	return nil
}

// progress shows on stderr how far a replay is: a bar redrawn in place
// (at most ten times a second) when stderr is a terminal, else a line at
// every tenth of the calls.
type progress struct {
	w        io.Writer
	clock    clock
	start    time.Time
	n, step  int
	terminal bool
	width    int
	drawn    time.Time // when the bar was last drawn
	shown    int       // length of the longest bar drawn, to blank its rest
}

func newProgress(e *env, n int) *progress {
	p := &progress{w: e.stderr, clock: e.clock, start: e.clock.Now(), n: n, step: max(n/10, 1), width: terminalWidth()}
	if f, ok := e.stderr.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			p.terminal = true
		}
	}
	return p
}

// done notes that i of the n calls are replayed.
func (p *progress) done(i int) {
	now := p.clock.Now()
	elapsed := now.Sub(p.start)
	switch {
	case p.terminal:
		if i < p.n && i > 1 && now.Sub(p.drawn) < 100*time.Millisecond {
			return
		}
		p.drawn = now
		// One column short of the width: a full line would wrap on
		// some terminals, and \r would then redraw the next one.
		line := renderProgress(i, p.n, elapsed, p.width-1)
		p.shown = max(p.shown, len(line))
		fmt.Fprintf(p.w, "\r%-*s", p.shown, line)
		if i == p.n {
			fmt.Fprintln(p.w)
		}
	case i%p.step == 0 || i == p.n:
		fmt.Fprintln(p.w, renderProgress(i, p.n, elapsed, 0))
	}
}

// interrupt ends the bar's line, so that what follows starts on its own.
func (p *progress) interrupt() {
	if p.terminal && !p.drawn.IsZero() {
		fmt.Fprintln(p.w)
	}
}

// renderProgress is the progress of a replay with done of total calls
// sent in elapsed: a bar, when width leaves room for one of at least ten
// columns, then the count, percent, rate and the time left (or taken).
// With a bar the line is width columns, the bar's length the same from
// start to end.
//
//	[=============>                ] replayed  45/100   45%  12.3/s  ETA 4.5s
func renderProgress(done, total int, elapsed time.Duration, width int) string {
	pct := 100
	if total > 0 {
		pct = done * 100 / total
	}
	rate, eta := "-/s", "ETA -"
	if done > 0 && elapsed > 0 {
		r := float64(done) / elapsed.Seconds()
		rate = fmt.Sprintf("%.1f/s", r)
		eta = "ETA " + roundDuration(time.Duration(float64(total-done)/r*float64(time.Second)))
	}
	if done >= total {
		eta = "took " + roundDuration(elapsed)
	}
	head := fmt.Sprintf("replayed %*d/%d  %3d%%", len(strconv.Itoa(total)), done, total, pct)
	text := head + "  " + rate + "  " + eta
	// Room for the longest rate and time the text usually has
	// ("10000.0/s  ETA 59m59s"), so that the bar keeps its length.
	room := max(len(head)+25, len(text))
	bar := width - len("[] ") - room
	if bar < 10 {
		return text
	}
	fill := bar * pct / 100
	tip := ""
	if fill < bar {
		tip = ">"
	}
	return fmt.Sprintf("[%s%s%s] %-*s", strings.Repeat("=", fill), tip, strings.Repeat(" ", bar-fill-len(tip)), room, text)
}

// roundDuration shows d to the second, or to the tenth under ten seconds.
func roundDuration(d time.Duration) string {
	if d < 10*time.Second {
		return d.Round(100 * time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}
