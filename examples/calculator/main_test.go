package main

import (
	"bytes"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	// rocketmq-client-go, linked in for the server and client modes,
	// starts a cache janitor in a package variable's initialiser; it is
	// not ours to stop.
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("github.com/patrickmn/go-cache.(*janitor).Run"))
}

// The default mode serves and calls the calculator in one process and
// prints every result, including the refused division by zero.
func TestAllInOne(t *testing.T) {
	var out bytes.Buffer
	if err := run(nil, &out); err != nil {
		t.Fatal(err)
	}
	want := `7 + 2 = 9
7 - 2 = 5
7 * 2 = 14
7 / 2 = 3 remainder 1
7 / 0 fails: invalid_argument: division of 7 by zero
stats of operands: count 2, sum 9, min 2, max 7, mean 4.5
`
	if out.String() != want {
		t.Errorf("output:\n%s\nwant:\n%s", out.String(), want)
	}
}

func TestUnknownMode(t *testing.T) {
	if err := run([]string{"serve"}, &bytes.Buffer{}); err == nil {
		t.Error("an unknown mode was accepted")
	}
}
