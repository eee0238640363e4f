package runtime_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/mqrpc/mqrpc/examples/calcpb/calcv1"
	"github.com/mqrpc/mqrpc/examples/calculator/calculator"
	"github.com/mqrpc/mqrpc/runtime"
	"github.com/mqrpc/mqrpc/runtime/memtransport"
)

func TestServerAnswersDescribeWithEveryService(t *testing.T) {
	tr := memtransport.New()
	t.Cleanup(func() { _ = tr.Close() })
	srv := runtime.NewServer(tr)
	if err := calculator.RegisterCalculator(srv, calculator.Server{}); err != nil {
		t.Fatal(err)
	}
	if err := calcv1.RegisterCalculator(srv, calcv1.Server{}); err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	c, err := runtime.NewClient(tr)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	// Asked on either service's topic, the server describes both.
	for _, svc := range []string{calculator.CalculatorServiceName, calcv1.CalculatorServiceName} {
		d, err := runtime.Describe(ctx, c, svc)
		if err != nil {
			t.Fatalf("describe %s: %v", svc, err)
		}
		if !reflect.DeepEqual(d, srv.Description()) {
			t.Errorf("describe %s: got %+v, want %+v", svc, d, srv.Description())
		}
		if len(d.Services) != 2 {
			t.Fatalf("describe %s: %d services, want 2", svc, len(d.Services))
		}
	}
	d := srv.Description()
	div := d.Service(calculator.CalculatorServiceName).Method("Div")
	want := runtime.MethodDescription{
		Name: "Div", FullMethod: calculator.Calculator_Div_FullMethodName, Body: "positional",
		Params:  []runtime.Field{{Name: "a", Type: "int"}, {Name: "b", Type: "int"}},
		Results: []runtime.Field{{Name: "quotient", Type: "int"}, {Name: "remainder", Type: "int"}},
	}
	if !reflect.DeepEqual(*div, want) {
		t.Errorf("Div: got %+v, want %+v", *div, want)
	}
	add := d.Service(calcv1.CalculatorServiceName).Method("Add")
	if add.Body != "message" || add.Request != "calc.v1.AddRequest" || add.Response != "calc.v1.AddResponse" {
		t.Errorf("proto Add: got %+v", *add)
	}
	if d.Service(calcv1.CalculatorServiceName).Method(runtime.DescribeMethod) != nil {
		t.Error("the description lists the describe method itself")
	}
}
