package jsonargs

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
)

// Text shows a decoded value to a person: on one line when that fits in
// width columns, else as indented JSON; a []byte longer than 24 bytes is
// shortened to the base64 of its first 24 and its length.
func Text(v any, width int) string {
	v = shortBytes(JSON(v))
	line := Marshal(v)
	if len(line) <= width || !strings.ContainsAny(line, "[{") {
		return line
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return line
	}
	return strings.TrimSuffix(buf.String(), "\n")
}

// shortBytesAt is the length past which Text shortens a []byte.
const shortBytesAt = 24

func shortBytes(v any) any {
	switch v := v.(type) {
	case []byte:
		if len(v) > shortBytesAt {
			return fmt.Sprintf("%s... (%d bytes)", base64.StdEncoding.EncodeToString(v[:shortBytesAt]), len(v))
		}
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = shortBytes(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[k] = shortBytes(e)
		}
		return out
	}
	return v
}
