package jsonargs

import (
	"bytes"
	"testing"
)

func TestTextIndentsWhatDoesNotFitAndShortensLongBytes(t *testing.T) {
	long := bytes.Repeat([]byte{0xff}, 1000)
	for _, c := range []struct {
		name string
		v    any
		want string
	}{
		{"short stays on one line", []any{int64(5), "x"}, `[5,"x"]`},
		{"long is indented", []any{map[string]any{"Name": "a long enough name", "Values": []any{1.5, 2.5}}}, "[\n  {\n    \"Name\": \"a long enough name\",\n    \"Values\": [\n      1.5,\n      2.5\n    ]\n  }\n]"},
		{"short bytes stay", []any{[]byte("hi")}, `["aGk="]`},
		{"long bytes are shortened", []any{long}, "[\n  \"////////////////////////////////... (1000 bytes)\"\n]"},
	} {
		if got := Text(c.v, 30); got != c.want {
			t.Errorf("%s: got\n%s\nwant\n%s", c.name, got, c.want)
		}
	}
}
