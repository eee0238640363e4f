package calculator

import (
	"context"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/mqrpc/mqrpc/runtime"
	"github.com/mqrpc/mqrpc/runtime/memtransport"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func newCalculator(t *testing.T) Calculator {
	t.Helper()
	tr := memtransport.New()
	t.Cleanup(func() { _ = tr.Close() })
	srv := runtime.NewServer(tr)
	if err := RegisterCalculator(srv, Server{}); err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.GracefulStop)
	client, err := runtime.NewClient(tr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Close() })
	return NewCalculatorClient(client)
}

func TestRemoteCalculator(t *testing.T) {
	calc := newCalculator(t)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()

	for _, tc := range []struct {
		name string
		op   func(context.Context, int, int) (int, error)
		a, b int
		want int
	}{
		{"Add", calc.Add, 2, 3, 5},
		{"Sub", calc.Sub, 2, 3, -1},
		{"Mul", calc.Mul, -4, 3, -12},
	} {
		if got, err := tc.op(ctx, tc.a, tc.b); err != nil || got != tc.want {
			t.Errorf("%s(%d, %d) = %d, %v; want %d", tc.name, tc.a, tc.b, got, err, tc.want)
		}
	}
	if q, r, err := calc.Div(ctx, 17, 5); err != nil || q != 3 || r != 2 {
		t.Errorf("Div(17, 5) = %d, %d, %v", q, r, err)
	}
	if _, _, err := calc.Div(ctx, 1, 0); runtime.CodeOf(err) != runtime.InvalidArgument {
		t.Errorf("Div(1, 0): %v, want InvalidArgument", err)
	}
	got, err := calc.Stats(ctx, Series{Name: "s", Values: []float64{1, 2, 6}})
	if want := (Summary{Name: "s", Count: 3, Sum: 9, Min: 1, Max: 6, Mean: 3}); err != nil || got != want {
		t.Errorf("Stats = %+v, %v; want %+v", got, err, want)
	}
}
