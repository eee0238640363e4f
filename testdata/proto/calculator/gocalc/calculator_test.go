package calculator_test

import (
	"bytes"
	"context"
	"math"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"go.uber.org/goleak"
	"google.golang.org/protobuf/proto"

	"github.com/mqrpc/mqrpc/runtime"
	"github.com/mqrpc/mqrpc/runtime/memtransport"
	"github.com/mqrpc/mqrpc/testdata/internal/goldentest"
	calculatorpb "github.com/mqrpc/mqrpc/testdata/proto/calculator"
	calculator "github.com/mqrpc/mqrpc/testdata/proto/calculator/gocalc"
	"github.com/mqrpc/mqrpc/testdata/proto/internal/prototest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The two front ends declare one interface: each client is the other's
// Calculator.
var (
	_ calculator.Calculator   = (*calculatorpb.CalculatorClient)(nil)
	_ calculatorpb.Calculator = (*calculator.CalculatorClient)(nil)
)

// arith serves the Calculator; it satisfies both interfaces.
type arith struct{}

func (arith) Add(_ context.Context, req *calculatorpb.Operands) (*calculatorpb.Result, error) {
	return &calculatorpb.Result{R: req.GetA() + req.GetB()}, nil
}

func (arith) Sub(_ context.Context, req *calculatorpb.Operands) (*calculatorpb.Result, error) {
	return &calculatorpb.Result{R: req.GetA() - req.GetB()}, nil
}

func (arith) Mul(_ context.Context, req *calculatorpb.Operands) (*calculatorpb.Result, error) {
	return &calculatorpb.Result{R: req.GetA() * req.GetB()}, nil
}

func (arith) Div(_ context.Context, req *calculatorpb.Operands) (*calculatorpb.Quotient, error) {
	if req.GetB() == 0 {
		return nil, runtime.Errorf(runtime.InvalidArgument, "division of %d by zero", req.GetA())
	}
	return &calculatorpb.Quotient{Quotient: req.GetA() / req.GetB(), Remainder: req.GetA() % req.GetB()}, nil
}

func (arith) Stats(_ context.Context, req *calculatorpb.Series) (*calculatorpb.Summary, error) {
	s := &calculatorpb.Summary{Name: req.GetName(), Count: int64(len(req.GetValues()))}
	if len(req.GetValues()) == 0 {
		return s, nil
	}
	s.Min, s.Max = math.Inf(1), math.Inf(-1)
	for _, v := range req.GetValues() {
		s.Sum += v
		s.Min, s.Max = min(s.Min, v), max(s.Max, v)
	}
	s.Mean = s.Sum / float64(len(req.GetValues()))
	return s, nil
}

// recorder is a transport that keeps the body of every request and
// reply it carries.
type recorder struct {
	*memtransport.Transport
	mu       sync.Mutex
	requests [][]byte
	replies  [][]byte
}

func (r *recorder) Request(ctx context.Context, msg *runtime.Message) error {
	r.mu.Lock()
	r.requests = append(r.requests, bytes.Clone(msg.Body))
	r.mu.Unlock()
	return r.Transport.Request(ctx, msg)
}

func (r *recorder) Reply(ctx context.Context, request, reply *runtime.Message) error {
	r.mu.Lock()
	r.replies = append(r.replies, bytes.Clone(reply.Body))
	r.mu.Unlock()
	return r.Transport.Reply(ctx, request, reply)
}

// take returns the bodies recorded since the last take. The reply of a
// call is recorded before it reaches the client, so after a call returns
// both of its bodies are here.
func (r *recorder) take() (requests, replies [][]byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	requests, replies = r.requests, r.replies
	r.requests, r.replies = nil, nil
	return requests, replies
}

// serve starts a server with the services register adds and a client of
// it, both on one recording transport, all stopped when the test ends.
func serve(t *testing.T, register func(*runtime.Server) error) (*runtime.Client, *recorder) {
	t.Helper()
	tr := &recorder{Transport: memtransport.New()}
	t.Cleanup(func() { _ = tr.Close() })
	return goldentest.ServeOn(t, tr, register), tr
}

// sides are the two ways across: a client of one front end calling a
// server of the other.
var sides = []struct {
	name     string
	register func(*runtime.Server) error
	client   func(*runtime.Client, ...runtime.CallOption) calculatorpb.Calculator
}{
	{
		name:     "Go-interface client, proto server",
		register: func(s *runtime.Server) error { return calculatorpb.RegisterCalculator(s, arith{}) },
		client: func(c *runtime.Client, opts ...runtime.CallOption) calculatorpb.Calculator {
			return calculator.NewCalculatorClient(c, opts...)
		},
	},
	{
		name:     "proto client, Go-interface server",
		register: func(s *runtime.Server) error { return calculator.RegisterCalculator(s, arith{}) },
		client: func(c *runtime.Client, opts ...runtime.CallOption) calculatorpb.Calculator {
			return calculatorpb.NewCalculatorClient(c, opts...)
		},
	},
}

// calls are made on each side; a call's result is want, or its error has
// code (want is nil then).
var calls = []struct {
	name string
	req  proto.Message
	call func(context.Context, calculatorpb.Calculator, proto.Message) (proto.Message, error)
	want proto.Message
	code runtime.Code
}{
	{"Add", &calculatorpb.Operands{A: 2, B: 3}, add, &calculatorpb.Result{R: 5}, runtime.OK},
	{"Sub", &calculatorpb.Operands{A: 2, B: 3}, sub, &calculatorpb.Result{R: -1}, runtime.OK},
	{"Mul", &calculatorpb.Operands{A: -4, B: 3}, mul, &calculatorpb.Result{R: -12}, runtime.OK},
	{"Div", &calculatorpb.Operands{A: 7, B: 2}, div, &calculatorpb.Quotient{Quotient: 3, Remainder: 1}, runtime.OK},
	{"Div by zero", &calculatorpb.Operands{A: 7}, div, nil, runtime.InvalidArgument},
	{"Stats", &calculatorpb.Series{Name: "s", Values: []float64{1, 2.5, -3}}, stats, &calculatorpb.Summary{Name: "s", Count: 3, Sum: 0.5, Min: -3, Max: 2.5, Mean: 0.5 / 3}, runtime.OK},
	{"Stats of nothing", &calculatorpb.Series{}, stats, &calculatorpb.Summary{}, runtime.OK},
}

func add(ctx context.Context, c calculatorpb.Calculator, req proto.Message) (proto.Message, error) {
	return c.Add(ctx, req.(*calculatorpb.Operands))
}

func sub(ctx context.Context, c calculatorpb.Calculator, req proto.Message) (proto.Message, error) {
	return c.Sub(ctx, req.(*calculatorpb.Operands))
}

func mul(ctx context.Context, c calculatorpb.Calculator, req proto.Message) (proto.Message, error) {
	return c.Mul(ctx, req.(*calculatorpb.Operands))
}

func div(ctx context.Context, c calculatorpb.Calculator, req proto.Message) (proto.Message, error) {
	return c.Div(ctx, req.(*calculatorpb.Operands))
}

func stats(ctx context.Context, c calculatorpb.Calculator, req proto.Message) (proto.Message, error) {
	return c.Stats(ctx, req.(*calculatorpb.Series))
}

// TestEachFrontEndCallsTheOther calls a server generated by one front end
// with a client generated by the other, both ways, with each codec. Every
// call answers as the Calculator should, and the request and reply
// bodies on the wire are the same bytes whichever way the call went: the
// request body is the request message itself, as the codec encodes it.
func TestEachFrontEndCallsTheOther(t *testing.T) {
	for _, c := range prototest.Codecs {
		t.Run(c.Name(), func(t *testing.T) {
			type bodies struct{ request, reply []byte }
			wire := make([][]bodies, len(sides))
			for i, side := range sides {
				client, tr := serve(t, side.register)
				calc := side.client(client, runtime.WithCodec(c))
				for _, tc := range calls {
					got, err := tc.call(prototest.Ctx(t), calc, tc.req)
					switch {
					case tc.want == nil && runtime.CodeOf(err) != tc.code:
						t.Errorf("%s: %s: got %v, %v; want code %v", side.name, tc.name, got, err, tc.code)
					case tc.want != nil && (err != nil || !proto.Equal(got, tc.want)):
						t.Errorf("%s: %s: got %v, %v; want %v", side.name, tc.name, got, err, tc.want)
					}
					requests, replies := tr.take()
					if len(requests) != 1 || len(replies) != 1 {
						t.Fatalf("%s: %s: recorded %d requests and %d replies, want one each", side.name, tc.name, len(requests), len(replies))
					}
					sent := tc.req.ProtoReflect().New().Interface()
					if err := c.Unmarshal(requests[0], sent); err != nil || !proto.Equal(sent, tc.req) {
						t.Errorf("%s: %s: the request body decodes as a %T to %v (%v), want %v", side.name, tc.name, sent, sent, err, tc.req)
					}
					wire[i] = append(wire[i], bodies{requests[0], replies[0]})
				}
			}
			for j, tc := range calls {
				a, b := wire[0][j], wire[1][j]
				if !bytes.Equal(a.request, b.request) {
					t.Errorf("%s: request bodies differ:\n %s: %x\n %s: %x", tc.name, sides[0].name, a.request, sides[1].name, b.request)
				}
				if !bytes.Equal(a.reply, b.reply) {
					t.Errorf("%s: reply bodies differ:\n %s: %x\n %s: %x", tc.name, sides[0].name, a.reply, sides[1].name, b.reply)
				}
			}
		})
	}
}

// TestBothServersDescribeTheSameService: what a server answers to
// mqrpc.Describe (methods, bodies, parameter types, the .proto files
// behind the messages) does not tell the front ends apart.
func TestBothServersDescribeTheSameService(t *testing.T) {
	var descs []*runtime.Description
	for _, side := range sides {
		tr := memtransport.New()
		t.Cleanup(func() { _ = tr.Close() })
		srv := runtime.NewServer(tr)
		if err := side.register(srv); err != nil {
			t.Fatal(err)
		}
		descs = append(descs, srv.Description())
	}
	if !reflect.DeepEqual(descs[0], descs[1]) {
		t.Errorf("descriptions differ:\n %s: %+v\n %s: %+v", sides[0].name, descs[0], sides[1].name, descs[1])
	}
	svc := descs[0].Service(calculator.CalculatorServiceName)
	if svc == nil || len(svc.Methods) != 5 || len(svc.ProtoFiles) == 0 {
		t.Fatalf("description %+v, want the five methods of calculator.Calculator and calculator.proto", descs[0])
	}
	for _, m := range svc.Methods {
		if m.Body != runtime.BodyMessage.String() {
			t.Errorf("method %s: body %q, want %q", m.Name, m.Body, runtime.BodyMessage)
		}
	}
	var got []string
	for _, m := range svc.Methods {
		got = append(got, m.Request+" -> "+m.Response)
	}
	if !slices.Equal(got, []string{
		"calculator.Operands -> calculator.Result",
		"calculator.Operands -> calculator.Result",
		"calculator.Operands -> calculator.Result",
		"calculator.Operands -> calculator.Quotient",
		"calculator.Series -> calculator.Summary",
	}) {
		t.Errorf("messages %q", got)
	}
}

// adderOnly implements only Add; the embedded UnimplementedCalculator
// answers the rest, so that it compiles however many methods the service
// gains.
type adderOnly struct {
	calculatorpb.UnimplementedCalculator
}

func (adderOnly) Add(_ context.Context, req *calculatorpb.Operands) (*calculatorpb.Result, error) {
	return &calculatorpb.Result{R: req.GetA() + req.GetB()}, nil
}

func TestUnimplementedMethodsAnswerUnimplemented(t *testing.T) {
	client := goldentest.Serve(t, func(s *runtime.Server) error { return calculatorpb.RegisterCalculator(s, adderOnly{}) })
	calc := calculatorpb.NewCalculatorClient(client)
	ctx := prototest.Ctx(t)
	if r, err := calc.Add(ctx, &calculatorpb.Operands{A: 2, B: 3}); err != nil || r.GetR() != 5 {
		t.Fatalf("Add = %v, %v", r, err)
	}
	_, err := calc.Div(ctx, &calculatorpb.Operands{A: 7, B: 2})
	if runtime.CodeOf(err) != runtime.Unimplemented || !strings.Contains(err.Error(), "method Div of calculator.Calculator is not implemented") {
		t.Errorf("Div = %v, want unimplemented naming the method", err)
	}
}
