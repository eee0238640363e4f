package main

import (
	"slices"
	"strings"
	"testing"
)

// Common flags may come before the command's name; any other flag there
// is refused with where it goes.
func TestCommonFlagsBeforeTheCommand(t *testing.T) {
	for _, c := range []struct {
		in   string
		want string // args as the command sees them, or "error: <text>"
	}{
		{"-o json list", "list -o json"},
		{"-o=json -namesrv 1.2.3.4:9876 list -timeout 2s", "list -o=json -namesrv 1.2.3.4:9876 -timeout 2s"},
		{"--cluster C describe calc.Calc", "describe --cluster C calc.Calc"},
		{"list -o json", "list -o json"},
		{"-h", "-h"},
		{"-timeout 2s list", "error: flag -timeout goes after the command's name"},
		{"-o", "error: flag -o needs a value"},
		{"-o json", "error: no command after -o json"},
	} {
		got, err := commonFlagsAfterCommand(strings.Fields(c.in))
		if err != nil {
			if !strings.HasPrefix(c.want, "error: ") || !strings.Contains(err.Error(), strings.TrimPrefix(c.want, "error: ")) {
				t.Errorf("%q: error %v, want %s", c.in, err, c.want)
			}
			continue
		}
		if !slices.Equal(got, strings.Fields(c.want)) {
			t.Errorf("%q: got %q, want %q", c.in, got, c.want)
		}
	}
}
