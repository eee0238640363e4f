package calculator

import (
	"context"
	"math"

	"github.com/mqrpc/mqrpc/runtime"
)

// Server is the Calculator the example serves.
type Server struct{}

var _ Calculator = Server{}

func (Server) Add(_ context.Context, a, b int) (int, error) { return a + b, nil }
func (Server) Sub(_ context.Context, a, b int) (int, error) { return a - b, nil }
func (Server) Mul(_ context.Context, a, b int) (int, error) { return a * b, nil }

func (Server) Div(_ context.Context, a, b int) (int, int, error) {
	if b == 0 {
		// The code, not the text, is what callers branch on.
		return 0, 0, runtime.Errorf(runtime.InvalidArgument, "division of %d by zero", a)
	}
	return a / b, a % b, nil
}

func (Server) Stats(_ context.Context, s Series) (Summary, error) {
	sum := Summary{Name: s.Name, Count: len(s.Values)}
	if len(s.Values) == 0 {
		return sum, nil
	}
	sum.Min, sum.Max = math.Inf(1), math.Inf(-1)
	for _, v := range s.Values {
		sum.Sum += v
		sum.Min = min(sum.Min, v)
		sum.Max = max(sum.Max, v)
	}
	sum.Mean = sum.Sum / float64(len(s.Values))
	return sum, nil
}
