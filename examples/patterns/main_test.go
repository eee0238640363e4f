package main

import (
	"bytes"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// Every server answers the fan-out call, and each account's calls run one
// at a time.
func TestPatterns(t *testing.T) {
	var out bytes.Buffer
	if err := run(&out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"fan-out Add(2, 3): 3 servers answered\n  calc-1: 5\n  calc-2: 5\n  calc-3: 5\n",
		"ordered: account-A ran 10 calls, at most 1 at a time\n",
		"ordered: account-B ran 10 calls, at most 1 at a time\n",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}
