package interop_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/mqrpc/mqrpc/runtime"
)

// nameVector is one golden case of the naming rules of docs/PROTOCOL.md
// section 2, in testdata/wire/names.
type nameVector struct {
	Name         string `json:"name"`
	Description  string `json:"description"`
	Service      string `json:"service"`
	ServiceBytes int    `json:"service_bytes"`
	SHA256       string `json:"sha256"`
	Topic        string `json:"topic"`
	TopicSHA256  string `json:"topic_sha256"`
	Group        string `json:"group"`
}

func loadNameVectors(t *testing.T) map[string]nameVector {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(wireDir, "names", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no name vectors in %s/names (%v)", wireDir, err)
	}
	out := map[string]nameVector{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var v nameVector
		d := json.NewDecoder(bytes.NewReader(b))
		d.DisallowUnknownFields()
		if err := d.Decode(&v); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if want := strings.TrimSuffix(filepath.Base(f), ".json"); v.Name != want {
			t.Fatalf("%s is named %q", f, v.Name)
		}
		out[v.Name] = v
	}
	return out
}

// TestDocNameVectorsMatchRuntime checks every name vector against the Go
// runtime's TopicFor and GroupFor, and against the rule itself: byte
// length, the SHA-256 of the name, and the limits.
func TestDocNameVectorsMatchRuntime(t *testing.T) {
	for name, v := range loadNameVectors(t) {
		sum := sha256.Sum256([]byte(v.Service))
		if got := hex.EncodeToString(sum[:]); got != v.SHA256 {
			t.Errorf("%s: sha256 is %s, the name's is %s", name, v.SHA256, got)
		}
		if len(v.Service) != v.ServiceBytes {
			t.Errorf("%s: service_bytes is %d, the name has %d", name, v.ServiceBytes, len(v.Service))
		}
		if got := runtime.TopicFor(v.Service); got != v.Topic {
			t.Errorf("%s: TopicFor(%q) = %q, the vector says %q", name, v.Service, got, v.Topic)
		}
		if got := runtime.GroupFor(v.Topic); got != v.Group {
			t.Errorf("%s: GroupFor(%q) = %q, the vector says %q", name, v.Topic, got, v.Group)
		}
		tsum := sha256.Sum256([]byte(v.Topic))
		if got := hex.EncodeToString(tsum[:]); got != v.TopicSHA256 {
			t.Errorf("%s: topic_sha256 is %s, the topic's is %s", name, v.TopicSHA256, got)
		}
		if len(v.Topic) > 127 || len(v.Group) > 120 {
			t.Errorf("%s: topic (%d bytes) is over 127 bytes or group (%d bytes) over 120", name, len(v.Topic), len(v.Group))
		}
		if len(v.Topic)+len("_server") > 120 && !strings.HasSuffix(v.Group, "_"+v.TopicSHA256[:16]+"_server") {
			t.Errorf("%s: a group cut to fit must end with _, 16 hex digits of the topic's hash and _server, got %q", name, v.Group)
		}
		if len(v.Service) > 127 && !strings.HasSuffix(v.Topic, "_"+v.SHA256[:16]) {
			t.Errorf("%s: a name over 127 bytes must end its topic with _ and 16 hex digits of its hash, got %q", name, v.Topic)
		}
	}
}

// nameLink finds the name vector a paragraph of section 2 points at.
var nameLink = regexp.MustCompile(`\(\.\./testdata/wire/names/([a-z_]+)\.json\)`)

// TestDocNamesMatchVectors reads the naming examples of docs/PROTOCOL.md
// section 2, fenced blocks of "name value" lines that each follow a link to
// their vector, and checks them against the vectors.
func TestDocNamesMatchVectors(t *testing.T) {
	doc, err := os.ReadFile("../docs/PROTOCOL.md")
	if err != nil {
		t.Fatal(err)
	}
	vectors := loadNameVectors(t)
	section := sectionOf(t, string(doc), "## 2. Names")
	parts := strings.Split(section, "```")
	shown := map[string]bool{}
	for i := 1; i < len(parts); i += 2 {
		link := nameLink.FindAllStringSubmatch(parts[i-1], -1)
		if link == nil {
			continue
		}
		name := link[len(link)-1][1]
		v, ok := vectors[name]
		if !ok {
			t.Errorf("section 2 links name vector %q, which does not exist", name)
			continue
		}
		shown[name] = true
		lines := map[string]string{}
		for _, l := range strings.Split(strings.Trim(parts[i], "\n"), "\n") {
			if strings.HasPrefix(l, " ") {
				continue // annotation of the line above
			}
			k, val, _ := strings.Cut(l, " ")
			lines[k] = strings.TrimSpace(val)
		}
		for _, f := range []struct{ key, want string }{
			{"service", v.Service}, {"topic", v.Topic}, {"group", v.Group}, {"sha-256", v.SHA256}, {"topic-sha-256", v.TopicSHA256},
		} {
			got, ok := lines[f.key]
			if strings.HasSuffix(f.key, "sha-256") && !ok {
				continue // shown only where the rule uses it
			}
			if got != f.want {
				t.Errorf("section 2, example %s: %s is %q, the vector says %q", name, f.key, got, f.want)
			}
		}
	}
	for _, must := range []string{"long_service", "group_cut"} {
		if !shown[must] {
			t.Errorf("section 2 shows no example linked to name vector %s", must)
		}
	}
}
