package interop_test

import (
	"encoding/hex"
	"maps"
	"os"
	"regexp"
	"strings"
	"testing"
)

// exampleBlock is one message of docs/PROTOCOL.md's worked example: a
// fenced block of "name value" lines that follows a link to its vector.
type exampleBlock struct {
	vector string
	msg    wireMessage
}

// vectorLink finds the vector a paragraph of the worked example points at.
var vectorLink = regexp.MustCompile(`\(\.\./testdata/wire/([a-z_]+)\.json\)`)

// TestWorkedExampleMatchesVectors reads the worked example of
// docs/PROTOCOL.md and checks every message it shows against the golden
// vector it links to, and the hex of the request's properties against the
// request shown, so that the document cannot drift from the bytes that the
// Go and Java tests check.
func TestWorkedExampleMatchesVectors(t *testing.T) {
	doc, err := os.ReadFile("../docs/PROTOCOL.md")
	if err != nil {
		t.Fatal(err)
	}
	section := sectionOf(t, string(doc), "## 10. Worked example")
	blocks, propsHex := parseWorkedExample(t, section)
	if len(blocks) < 3 {
		t.Fatalf("found %d messages with vectors in the worked example, want the Add request, its reply and the Div reply", len(blocks))
	}
	for _, b := range blocks {
		matchVector(t, loadVector(t, b.vector), b.msg, matchOptions{})
	}

	if propsHex == nil {
		t.Fatal("the worked example shows no hex of the request's properties")
	}
	shown := map[string]string{}
	for pair := range strings.SplitSeq(strings.TrimSuffix(string(propsHex), "\x02"), "\x02") {
		name, value, ok := strings.Cut(pair, "\x01")
		if !ok {
			t.Fatalf("property bytes %q have no 0x01 between name and value", pair)
		}
		shown[name] = value
	}
	want := map[string]string{}
	for k, v := range blocks[0].msg.Properties {
		if strings.HasPrefix(k, "mqrpc-") {
			want[k] = v
		}
	}
	if !maps.Equal(shown, want) {
		t.Errorf("the properties' hex holds %v, the request shows %v", shown, want)
	}
}

func sectionOf(t *testing.T, doc, heading string) string {
	t.Helper()
	start := strings.Index(doc, heading)
	if start < 0 {
		t.Fatalf("docs/PROTOCOL.md has no %q", heading)
	}
	rest := doc[start+len(heading):]
	if end := strings.Index(rest, "\n## "); end >= 0 {
		rest = rest[:end]
	}
	return rest
}

// parseWorkedExample returns the messages of the section whose paragraph
// links a vector, in order, and the bytes of its hex dump block (lines of
// hex pairs followed by their ASCII).
func parseWorkedExample(t *testing.T, section string) (blocks []exampleBlock, propsHex []byte) {
	t.Helper()
	parts := strings.Split(section, "```")
	for i := 1; i < len(parts); i += 2 {
		body, before := parts[i], parts[i-1]
		if strings.HasPrefix(body, "java") {
			continue
		}
		lines := strings.Split(strings.Trim(body, "\n"), "\n")
		if isHexDump(lines) {
			propsHex = hexDump(t, lines)
			continue
		}
		link := vectorLink.FindAllStringSubmatch(before, -1)
		if link == nil {
			t.Fatalf("a message block of the worked example follows no vector link:\n%s", body)
		}
		blocks = append(blocks, exampleBlock{vector: link[len(link)-1][1], msg: parseMessage(t, lines)})
	}
	return blocks, propsHex
}

var hexLine = regexp.MustCompile(`^((?:[0-9a-f]{2} )+)\s*\S`)

func isHexDump(lines []string) bool {
	for _, l := range lines {
		if !hexLine.MatchString(l) {
			return false
		}
	}
	return true
}

func hexDump(t *testing.T, lines []string) []byte {
	t.Helper()
	var out []byte
	for _, l := range lines {
		b, err := hex.DecodeString(strings.ReplaceAll(hexLine.FindStringSubmatch(l)[1], " ", ""))
		if err != nil {
			t.Fatalf("hex line %q: %v", l, err)
		}
		out = append(out, b...)
	}
	return out
}

// parseMessage reads "name value" lines; "body" takes hex bytes, and the
// lines under it that annotate them are skipped.
func parseMessage(t *testing.T, lines []string) wireMessage {
	t.Helper()
	m := wireMessage{Properties: map[string]string{}}
	for _, l := range lines {
		if strings.HasPrefix(l, " ") {
			continue // annotation of the body bytes
		}
		name, value, _ := strings.Cut(l, " ")
		value = strings.TrimSpace(value)
		switch name {
		case "topic":
			m.Topic = value
		case "tag":
			m.Tag = strings.TrimSpace(strings.TrimPrefix(value, "(TAGS)"))
		case "keys":
			m.Keys = strings.TrimSpace(strings.TrimPrefix(value, "(KEYS)"))
		case "body":
			b, err := hex.DecodeString(strings.ReplaceAll(value, " ", ""))
			if err != nil {
				t.Fatalf("body %q: %v", value, err)
			}
			m.Body = b
		default:
			m.Properties[name] = value
		}
	}
	return m
}
