package runtime

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestMemoryDedupStoreStates(t *testing.T) {
	ctx := context.Background()
	st := NewMemoryDedupStore(10)
	exp := time.Now().Add(time.Hour)
	claim := func(id string, want ClaimState) {
		t.Helper()
		got, err := st.Claim(ctx, id, exp)
		if err != nil || got != want {
			t.Fatalf("Claim(%q) = %v, %v; want %v", id, got, err, want)
		}
	}
	claim("a", ClaimNew)
	claim("a", ClaimTaken)
	claim("b", ClaimNew)
	if err := st.Finish(ctx, "a", exp); err != nil {
		t.Fatal(err)
	}
	claim("a", ClaimDone)
	claim("b", ClaimTaken)
	// Finishing under another deadline is not finishing this claim.
	if err := st.Finish(ctx, "b", exp.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	claim("b", ClaimTaken)
	// Finishing an id never claimed records nothing.
	if err := st.Finish(ctx, "c", exp); err != nil {
		t.Fatal(err)
	}
	claim("c", ClaimNew)
}

func TestMemoryDedupStoreForgetsAtTheDeadline(t *testing.T) {
	d := newDedup(10)
	steps := []struct {
		now  int
		want ClaimState
	}{{0, ClaimNew}, {9, ClaimTaken}, {10, ClaimNew}}
	for _, s := range steps {
		if got := d.claim("a", at(10), at(s.now)); got != s.want {
			t.Fatalf("claim at %d = %v, want %v", s.now, got, s.want)
		}
	}
	d.finish("a", at(10))
	if got := d.claim("a", at(10), at(5)); got != ClaimDone {
		t.Fatalf("claim after finish = %v, want done", got)
	}
	if got := d.claim("a", at(20), at(10)); got != ClaimNew {
		t.Fatalf("claim of a finished id past its deadline = %v, want new", got)
	}
}

func TestMemoryDedupStoreOneClaimWins(t *testing.T) {
	st := NewMemoryDedupStore(100)
	exp := time.Now().Add(time.Hour)
	var mu sync.Mutex
	states := map[ClaimState]int{}
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			s, err := st.Claim(context.Background(), "id", exp)
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			states[s]++
			mu.Unlock()
		})
	}
	wg.Wait()
	if states[ClaimNew] != 1 || states[ClaimTaken] != 15 {
		t.Fatalf("16 concurrent claims gave %v, want one new and 15 taken", states)
	}
}

// recordingStore is a DedupStore over memory that can fail, and records
// each call with the number of replies sent at that time.
type recordingStore struct {
	DedupStore
	ft         *fakeTransport
	claimErr   error
	finishErr  error
	mu         sync.Mutex
	finishedAt []int // replies sent when Finish was called
}

func (r *recordingStore) Claim(ctx context.Context, id string, exp time.Time) (ClaimState, error) {
	if r.claimErr != nil {
		return 0, r.claimErr
	}
	return r.DedupStore.Claim(ctx, id, exp)
}

func (r *recordingStore) Finish(ctx context.Context, id string, exp time.Time) error {
	r.mu.Lock()
	r.finishedAt = append(r.finishedAt, len(r.ft.sent()))
	r.mu.Unlock()
	if r.finishErr != nil {
		return r.finishErr
	}
	return r.DedupStore.Finish(ctx, id, exp)
}

// newStoreServer starts a server for calcDesc on a fake transport with
// store.
func newStoreServer(t *testing.T, store DedupStore, opts ...ServerOption) (*Server, *fakeTransport, *calcServer) {
	t.Helper()
	ft := newFakeTransport()
	if r, ok := store.(*recordingStore); ok {
		r.ft = ft
	}
	impl := &calcServer{}
	s := NewServer(ft, append(opts, WithDedupStore(store))...)
	if err := s.RegisterService(&calcDesc, impl); err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s, ft, impl
}

// deadlineOf returns the deadline property of msg.
func deadlineOf(t *testing.T, msg *Message) time.Time {
	t.Helper()
	ms, err := strconv.ParseInt(msg.Properties[PropDeadline], 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return time.UnixMilli(ms)
}

func TestServeFinishesInTheStoreBeforeReplying(t *testing.T) {
	store := &recordingStore{DedupStore: NewMemoryDedupStore(10)}
	_, ft, impl := newStoreServer(t, store)
	msg := calcRequest(t, "Add", "s-1", calcAddArgs{A: 1, B: 2})
	deliver(t, ft, msg)
	if impl.calls.Load() != 1 || len(ft.sent()) != 1 {
		t.Fatalf("handler ran %d times, %d replies; want 1 and 1", impl.calls.Load(), len(ft.sent()))
	}
	if len(store.finishedAt) != 1 || store.finishedAt[0] != 0 {
		t.Fatalf("Finish calls saw %v replies sent, want one call before the reply", store.finishedAt)
	}
	if st, _ := store.Claim(context.Background(), "s-1", deadlineOf(t, msg)); st != ClaimDone {
		t.Fatalf("store holds the call as %v, want done", st)
	}
}

func TestServeWithStore(t *testing.T) {
	tests := []struct {
		name string
		// prior is what the store knows of the call before it is
		// delivered: "" nothing, "taken" claimed by a server that never
		// finished, "done" answered.
		prior        string
		wantErr      error
		wantRuns     int
		wantReplies  int
		wantDup      uint64
		wantDeadLett uint64
	}{
		{name: "new call runs", wantRuns: 1, wantReplies: 1},
		{name: "call finished by another server is dropped", prior: "done", wantDup: 1},
		{name: "call claimed and never finished is dead-lettered", prior: "taken", wantErr: ErrDeadLetter, wantDeadLett: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := NewMemoryDedupStore(10)
			s, ft, impl := newStoreServer(t, store)
			msg := calcRequest(t, "Add", "w-1", calcAddArgs{A: 1, B: 2})
			exp := deadlineOf(t, msg)
			ctx := context.Background()
			if tt.prior != "" {
				if _, err := store.Claim(ctx, "w-1", exp); err != nil {
					t.Fatal(err)
				}
			}
			if tt.prior == "done" {
				if err := store.Finish(ctx, "w-1", exp); err != nil {
					t.Fatal(err)
				}
			}
			err := ft.handler(calcTopic)(ctx, msg)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("transport handler returned %v, want %v", err, tt.wantErr)
			}
			if n := int(impl.calls.Load()); n != tt.wantRuns {
				t.Errorf("handler ran %d times, want %d", n, tt.wantRuns)
			}
			if n := len(ft.sent()); n != tt.wantReplies {
				t.Errorf("%d replies sent, want %d", n, tt.wantReplies)
			}
			if n := s.Stats().Duplicates; n != tt.wantDup {
				t.Errorf("Stats().Duplicates = %d, want %d", n, tt.wantDup)
			}
			if n := s.Stats().DeadLettered; n != tt.wantDeadLett {
				t.Errorf("Stats().DeadLettered = %d, want %d", n, tt.wantDeadLett)
			}
			// Delivered again to the same server, the call is a plain
			// duplicate: the store is not asked again.
			if err := ft.handler(calcTopic)(ctx, msg); err != nil {
				t.Fatalf("second delivery: transport handler returned %v, want nil", err)
			}
			if n := int(impl.calls.Load()); n != tt.wantRuns {
				t.Errorf("second delivery ran the handler: %d runs", n)
			}
		})
	}
}

// A server that restarts (a new Server, its memory empty) with the same
// store does not run a call its previous life answered, and dead-letters
// one its previous life took and did not finish.
func TestServeWithStoreAcrossARestart(t *testing.T) {
	store := NewMemoryDedupStore(10)
	_, ft1, impl1 := newStoreServer(t, store)
	done := calcRequest(t, "Add", "r-done", calcAddArgs{A: 1})
	deliver(t, ft1, done)
	// The first life takes a second call and dies before finishing it.
	crashed := calcRequest(t, "Add", "r-crashed", calcAddArgs{A: 2})
	if st, _ := store.Claim(context.Background(), "r-crashed", deadlineOf(t, crashed)); st != ClaimNew {
		t.Fatalf("claim = %v", st)
	}

	s2, ft2, impl2 := newStoreServer(t, store)
	deliver(t, ft2, done)
	if err := ft2.handler(calcTopic)(context.Background(), crashed); !errors.Is(err, ErrDeadLetter) {
		t.Fatalf("redelivered crashed call: handler returned %v, want ErrDeadLetter", err)
	}
	if n := impl1.calls.Load() + impl2.calls.Load(); n != 1 {
		t.Errorf("handlers ran %d times in all, want 1", n)
	}
	if len(ft2.sent()) != 0 {
		t.Errorf("restarted server sent %d replies, want none", len(ft2.sent()))
	}
	if s2.Stats().Duplicates != 1 || s2.Stats().DeadLettered != 1 {
		t.Errorf("restarted server: %d duplicates, %d dead-lettered; want 1 and 1",
			s2.Stats().Duplicates, s2.Stats().DeadLettered)
	}
}

func TestServeStoreClaimErrorAnswersUnavailable(t *testing.T) {
	store := &recordingStore{DedupStore: NewMemoryDedupStore(10), claimErr: errors.New("dial tcp 127.0.0.1:1: connection refused")}
	s, ft, impl := newStoreServer(t, store)
	msg := calcRequest(t, "Add", "e-1", calcAddArgs{})
	deliver(t, ft, msg)
	if n := impl.calls.Load(); n != 0 {
		t.Fatalf("handler ran %d times without a claim", n)
	}
	sent := ft.sent()
	if len(sent) != 1 {
		t.Fatalf("%d replies, want 1", len(sent))
	}
	if c := statusOf(t, sent[0].reply); c != Unavailable {
		t.Errorf("reply status %v, want Unavailable", c)
	}
	if m := sent[0].reply.Properties[PropMessage]; !strings.Contains(m, "dedup store") || !strings.Contains(m, "connection refused") {
		t.Errorf("reply message %q does not name the store and its error", m)
	}
	// The call is answered: delivered again, it is a duplicate.
	deliver(t, ft, msg)
	if len(ft.sent()) != 1 || s.Stats().Duplicates != 1 {
		t.Errorf("redelivery after a store error: %d replies, %d duplicates", len(ft.sent()), s.Stats().Duplicates)
	}
}

func TestServeStoreFinishErrorStillReplies(t *testing.T) {
	store := &recordingStore{DedupStore: NewMemoryDedupStore(10), finishErr: errors.New("store went away")}
	_, ft, impl := newStoreServer(t, store)
	deliver(t, ft, calcRequest(t, "Add", "f-1", calcAddArgs{}))
	if impl.calls.Load() != 1 || len(ft.sent()) != 1 {
		t.Fatalf("handler ran %d times, %d replies; want 1 and 1", impl.calls.Load(), len(ft.sent()))
	}
	if c := statusOf(t, ft.sent()[0].reply); c != OK {
		t.Errorf("reply status %v, want OK", c)
	}
}

func TestServeOneWayFinishesInTheStore(t *testing.T) {
	store := NewMemoryDedupStore(10)
	_, ft, impl := newStoreServer(t, store)
	msg := calcRequest(t, "Notify", "n-1", calcNotifyArgs{S: "x"})
	deliver(t, ft, msg)
	if impl.notified.Load() != 1 {
		t.Fatalf("one-way handler ran %d times", impl.notified.Load())
	}
	if st, _ := store.Claim(context.Background(), "n-1", deadlineOf(t, msg)); st != ClaimDone {
		t.Fatalf("store holds the one-way call as %v, want done", st)
	}
}

func TestServeAttemptInCallInfo(t *testing.T) {
	_, ft, impl := newCalcServer(t)
	for _, attempt := range []int{0, 1, 3} {
		msg := calcRequest(t, "Add", fmt.Sprint("att-", attempt), calcAddArgs{})
		msg.Attempt = attempt
		deliver(t, ft, msg)
		ci, ok := CallInfoFromContext(*impl.lastCtx.Load())
		if !ok || ci.Attempt != attempt {
			t.Errorf("CallInfo.Attempt = %d (ok %v), want %d", ci.Attempt, ok, attempt)
		}
	}
}

// A request without a deadline property counts the default timeout from
// when it was sent, so that a redelivery keeps the deadline (and the dedup
// record) of the first delivery.
func TestServeDefaultDeadlineCountsFromSent(t *testing.T) {
	_, ft, impl := newCalcServer(t)
	sent := time.Now().Add(-10 * time.Second).Truncate(time.Millisecond)
	msg := calcRequest(t, "Add", "nodl-1", calcAddArgs{})
	delete(msg.Properties, PropDeadline)
	msg.SentAt = sent
	deliver(t, ft, msg)
	dl, ok := (*impl.lastCtx.Load()).Deadline()
	if !ok || !dl.Equal(sent.Add(DefaultTimeout)) {
		t.Fatalf("handler deadline %v, want sent + DefaultTimeout = %v", dl, sent.Add(DefaultTimeout))
	}

	old := calcRequest(t, "Add", "nodl-2", calcAddArgs{})
	delete(old.Properties, PropDeadline)
	old.SentAt = time.Now().Add(-DefaultTimeout - time.Second)
	s, ft2, impl2 := newCalcServer(t)
	deliver(t, ft2, old)
	if impl2.calls.Load() != 0 || s.Stats().Expired != 1 {
		t.Fatalf("a request sent longer than DefaultTimeout ago ran %d times, %d expired", impl2.calls.Load(), s.Stats().Expired)
	}
}
