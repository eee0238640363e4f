package predeclared

import (
	"context"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/mqrpc/mqrpc/runtime"
	"github.com/mqrpc/mqrpc/testdata/internal/goldentest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type counter struct{}

func (counter) Next(_ context.Context, n any) (any, error) { return new(n), nil }

func (counter) First(context.Context) (any, error) { return new(0), nil }

// The generated code compiles beside the package's own new and any (this
// test would not build otherwise), and calls go through it.
func TestCallsThroughCodeThatAvoidsRedeclaredNames(t *testing.T) {
	client := NewCounterClient(goldentest.Serve(t, func(s *runtime.Server) error { return RegisterCounter(s, counter{}) }))
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if got, err := client.Next(ctx, 41); err != nil || got != 42 {
		t.Errorf("Next(41) = %d, %v; want 42", got, err)
	}
	if got, err := client.First(ctx); err != nil || got != 1 {
		t.Errorf("First() = %d, %v; want 1", got, err)
	}
}
