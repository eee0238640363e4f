// Package jsonargs converts between JSON, as people type it on a command
// line, and the values mqrpc's msgpack bodies carry, guided by the Go
// types that a server's description gives (runtime.Field.Type).
package jsonargs

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/mqrpc/mqrpc/runtime"
)

// Args converts a JSON array of arguments into the values of a positional
// request body, in order. With params (from a description) it checks the
// count and converts each value to the parameter's type; without, every
// value is converted as its JSON form suggests.
func Args(raw string, params []runtime.Field, described bool) ([]any, error) {
	dec := json.NewDecoder(strings.NewReader(raw))
	dec.UseNumber()
	var list []any
	if err := dec.Decode(&list); err != nil {
		return nil, fmt.Errorf("arguments must be a JSON array, as in '[2,3]': %v", err)
	}
	if dec.More() {
		return nil, fmt.Errorf("arguments: unexpected data after the JSON array")
	}
	if described && len(list) != len(params) {
		return nil, fmt.Errorf("%d arguments given, the method takes %d (%s)", len(list), len(params), Signature(params))
	}
	out := make([]any, len(list))
	for i, v := range list {
		typ := ""
		if described {
			typ = params[i].Type
		}
		c, err := Value(v, typ)
		if err != nil {
			name := fmt.Sprintf("argument %d", i+1)
			if described && params[i].Name != "" {
				name += " (" + params[i].Name + ")"
			}
			return nil, fmt.Errorf("%s: %v", name, err)
		}
		out[i] = c
	}
	return out, nil
}

// Signature writes fields as a parameter list, "a int, b int".
func Signature(fs []runtime.Field) string {
	parts := make([]string, len(fs))
	for i, f := range fs {
		parts[i] = strings.TrimSpace(f.Name + " " + f.Type)
	}
	return strings.Join(parts, ", ")
}

// Value converts one JSON value (decoded with UseNumber) to what msgpack
// should carry for the Go type typ. An empty or unknown type (a named type
// of the service's package, a struct) is converted by the JSON form alone:
// objects become maps keyed by field name, which is how msgpack encodes
// structs, and integral numbers become integers.
func Value(v any, typ string) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch {
	case strings.HasPrefix(typ, "*"):
		return Value(v, typ[1:])
	case typ == "[]byte" || typ == "[]uint8":
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("want a base64 string for %s, got %s", typ, jsonKind(v))
		}
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil, fmt.Errorf("want base64 for %s: %v", typ, err)
		}
		return b, nil
	case strings.HasPrefix(typ, "[]") || arrayType(typ) != "":
		elem := strings.TrimPrefix(typ, "[]")
		if e := arrayType(typ); e != "" {
			elem = e
		}
		list, ok := v.([]any)
		if !ok {
			return nil, fmt.Errorf("want a JSON array for %s, got %s", typ, jsonKind(v))
		}
		out := make([]any, len(list))
		for i, e := range list {
			c, err := Value(e, elem)
			if err != nil {
				return nil, fmt.Errorf("[%d]: %v", i, err)
			}
			out[i] = c
		}
		return out, nil
	case strings.HasPrefix(typ, "map["):
		key, elem, ok := splitMap(typ)
		obj, isObj := v.(map[string]any)
		if !ok || !isObj {
			if !isObj {
				return nil, fmt.Errorf("want a JSON object for %s, got %s", typ, jsonKind(v))
			}
			return generic(v), nil
		}
		out := make(map[any]any, len(obj))
		for k, e := range obj {
			kv, err := Value(keyJSON(k, key), key)
			if err != nil {
				return nil, fmt.Errorf("key %q: %v", k, err)
			}
			c, err := Value(e, elem)
			if err != nil {
				return nil, fmt.Errorf("[%q]: %v", k, err)
			}
			out[kv] = c
		}
		return out, nil
	case typ == "time.Time":
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("want an RFC 3339 time string for time.Time, got %s", jsonKind(v))
		}
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return nil, fmt.Errorf("want an RFC 3339 time: %v", err)
		}
		return t, nil
	case typ == "time.Duration":
		if s, ok := v.(string); ok {
			d, err := time.ParseDuration(s)
			if err != nil {
				return nil, err
			}
			return int64(d), nil
		}
		return integer(v, typ)
	case typ == "string":
		if s, ok := v.(string); ok {
			return s, nil
		}
		return nil, fmt.Errorf("want a string, got %s", jsonKind(v))
	case typ == "bool":
		if b, ok := v.(bool); ok {
			return b, nil
		}
		return nil, fmt.Errorf("want true or false, got %s", jsonKind(v))
	case typ == "float64" || typ == "float32":
		n, ok := v.(json.Number)
		if !ok {
			return nil, fmt.Errorf("want a number for %s, got %s", typ, jsonKind(v))
		}
		f, err := n.Float64()
		if err != nil {
			return nil, err
		}
		if typ == "float32" {
			return float32(f), nil
		}
		return f, nil
	case isInt(typ):
		return integer(v, typ)
	}
	return generic(v), nil
}

func integer(v any, typ string) (any, error) {
	n, ok := v.(json.Number)
	if !ok {
		return nil, fmt.Errorf("want an integer for %s, got %s", typ, jsonKind(v))
	}
	if strings.HasPrefix(typ, "uint") || typ == "byte" {
		u, err := strconv.ParseUint(n.String(), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("want a non-negative integer for %s, got %s", typ, n)
		}
		return u, nil
	}
	i, err := strconv.ParseInt(n.String(), 10, 64)
	if err != nil {
		return nil, fmt.Errorf("want an integer for %s, got %s", typ, n)
	}
	return i, nil
}

func isInt(typ string) bool {
	switch typ {
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64", "uintptr", "byte", "rune":
		return true
	}
	return false
}

// arrayType returns the element type of "[N]T", "" for anything else.
func arrayType(typ string) string {
	if !strings.HasPrefix(typ, "[") || strings.HasPrefix(typ, "[]") {
		return ""
	}
	i := strings.IndexByte(typ, ']')
	if i < 0 {
		return ""
	}
	if _, err := strconv.Atoi(typ[1:i]); err != nil {
		return ""
	}
	return typ[i+1:]
}

// splitMap splits "map[K]V" at its matching bracket.
func splitMap(typ string) (key, elem string, ok bool) {
	depth := 0
	for i := len("map"); i < len(typ); i++ {
		switch typ[i] {
		case '[':
			depth++
		case ']':
			depth--
			if depth == 0 {
				return typ[len("map["):i], typ[i+1:], true
			}
		}
	}
	return "", "", false
}

// keyJSON turns a JSON object key into the JSON value a map key of type
// key would have: a number for integer keys.
func keyJSON(k, key string) any {
	if isInt(key) || key == "float64" || key == "float32" {
		return json.Number(k)
	}
	if key == "bool" {
		return k == "true"
	}
	return k
}

// generic converts a JSON value by its form: integral numbers to int64 (or
// uint64 above it), others to float64, objects to maps.
func generic(v any) any {
	switch v := v.(type) {
	case json.Number:
		if i, err := strconv.ParseInt(v.String(), 10, 64); err == nil {
			return i
		}
		if u, err := strconv.ParseUint(v.String(), 10, 64); err == nil {
			return u
		}
		f, _ := v.Float64()
		return f
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = generic(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[k] = generic(e)
		}
		return out
	}
	return v
}

func jsonKind(v any) string {
	switch v := v.(type) {
	case string:
		return "a string"
	case json.Number:
		return "the number " + v.String()
	case bool:
		return "a boolean"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

// JSON turns a value decoded from msgpack into one encoding/json writes:
// maps with non-string keys get string keys, and floats that JSON cannot
// hold (NaN, ±Inf) become strings. []byte stays, as base64.
func JSON(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[k] = JSON(e)
		}
		return out
	case map[any]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[fmt.Sprint(k)] = JSON(e)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = JSON(e)
		}
		return out
	case float64:
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return strconv.FormatFloat(v, 'g', -1, 64)
		}
	case float32:
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return strconv.FormatFloat(float64(v), 'g', -1, 32)
		}
	}
	return v
}

// Marshal writes v (after JSON) as compact JSON with sorted keys.
func Marshal(v any) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(JSON(v)); err != nil {
		return fmt.Sprintf("%q", fmt.Sprint(v))
	}
	return strings.TrimSuffix(buf.String(), "\n")
}

// SortedKeys returns the keys of m in order.
func SortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
