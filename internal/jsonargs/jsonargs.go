// Package jsonargs converts between JSON, as people type it on a command
// line, and the values mqrpc's msgpack bodies carry, guided by the Go
// types that a server's description gives (runtime.Field.Type and
// runtime.TypeDescription); and parses the request message of a .proto
// method from protobuf's JSON mapping.
package jsonargs

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/mqrpc/mqrpc/runtime"
)

// Method is what a server's description says about the parameters of a
// positional method.
type Method struct {
	Params []runtime.Field
	// Types describes the named types that Params use
	// (runtime.ServiceDescription.Types): the fields of structs, the type
	// underneath others.
	Types []runtime.TypeDescription
}

// An ArgError is an argument that does not convert to its parameter's
// type.
type ArgError struct {
	// Index counts arguments from 1.
	Index int
	// Name is the parameter's name, when the description gives one.
	Name string
	Err  error
}

func (e *ArgError) Error() string {
	if e.Name != "" {
		return fmt.Sprintf("argument %d (%s): %v", e.Index, e.Name, e.Err)
	}
	return fmt.Sprintf("argument %d: %v", e.Index, e.Err)
}

func (e *ArgError) Unwrap() error { return e.Err }

// Args converts a JSON array of arguments into the values of a positional
// request body, in order. With m (from a description) it checks the count
// and converts each value to its parameter's type; with m nil, every value
// is converted as its JSON form suggests.
func Args(raw string, m *Method) ([]any, error) {
	dec := json.NewDecoder(strings.NewReader(raw))
	dec.UseNumber()
	var list []any
	if err := dec.Decode(&list); err != nil {
		return nil, fmt.Errorf("arguments must be a JSON array, as in '[2,3]': %v", err)
	}
	if dec.More() {
		return nil, fmt.Errorf("arguments: unexpected data after the JSON array")
	}
	if m == nil {
		out := make([]any, len(list))
		for i, v := range list {
			out[i] = generic(v)
		}
		return out, nil
	}
	if len(list) != len(m.Params) {
		return nil, fmt.Errorf("%d arguments given, the method takes %d (%s)", len(list), len(m.Params), Signature(m.Params))
	}
	c := newConverter(m.Types)
	out := make([]any, len(list))
	for i, v := range list {
		val, err := c.value(v, m.Params[i].Type)
		if err != nil {
			return nil, &ArgError{Index: i + 1, Name: m.Params[i].Name, Err: err}
		}
		out[i] = val
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
// should carry for the Go type typ, as a description writes it ("int",
// "[]time.Time", "*calculator.Series"); types describes the named types
// that typ uses. An empty typ converts by the JSON form alone: objects
// become maps keyed by field name, which is how msgpack encodes structs,
// and integral numbers become integers. So does a named type that types
// does not describe, except that it cannot be null.
func Value(v any, typ string, types []runtime.TypeDescription) (any, error) {
	return newConverter(types).value(v, typ)
}

// converter converts JSON values with the named types of a description
// at hand.
type converter struct {
	types map[string]*runtime.TypeDescription
}

func newConverter(types []runtime.TypeDescription) *converter {
	c := &converter{types: make(map[string]*runtime.TypeDescription, len(types))}
	for i := range types {
		c.types[types[i].Name] = &types[i]
	}
	return c
}

// resolve follows named types that are not structs to the type underneath
// ("kinds.Celsius" -> "float64").
func (c *converter) resolve(typ string) string {
	for range 16 { // a described chain is short; bound it anyway
		td := c.types[typ]
		if td == nil || td.Underlying == "struct" || td.Underlying == "" {
			return typ
		}
		typ = td.Underlying
	}
	return typ
}

// nullable reports whether a Go value of type typ can be nil, so that a
// JSON null is one of its values rather than a zero that nobody sent.
func (c *converter) nullable(typ string) bool {
	typ = c.resolve(typ)
	return typ == "" || typ == "any" || typ == "error" || strings.HasPrefix(typ, "interface") ||
		strings.HasPrefix(typ, "*") || strings.HasPrefix(typ, "[]") || strings.HasPrefix(typ, "map[")
}

func (c *converter) value(v any, typ string) (any, error) {
	if v == nil {
		if !c.nullable(typ) {
			return nil, fmt.Errorf("%s cannot be null: only pointers, slices, maps and interfaces can", typ)
		}
		return nil, nil
	}
	named := typ
	typ = c.resolve(typ)
	switch {
	case strings.HasPrefix(typ, "*"):
		// A pointer carries its pointee. A described type may point at
		// itself (type T *T), so the chain is bounded.
		for i := 0; strings.HasPrefix(typ, "*"); i++ {
			if i == 64 {
				return nil, fmt.Errorf("%s points through more than 64 pointers", named)
			}
			typ = c.resolve(typ[1:])
		}
		return c.value(v, typ)
	case typ == "[]byte" || typ == "[]uint8":
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("want a base64 string for %s, got %s", named, jsonKind(v))
		}
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil, fmt.Errorf("want base64 for %s: %v", named, err)
		}
		return b, nil
	case strings.HasPrefix(typ, "[]") || arrayType(typ) != "":
		elem := strings.TrimPrefix(typ, "[]")
		if e := arrayType(typ); e != "" {
			elem = e
		}
		list, ok := v.([]any)
		if !ok {
			return nil, fmt.Errorf("want a JSON array for %s, got %s", named, jsonKind(v))
		}
		if n := arrayLen(typ); n >= 0 && len(list) != n {
			return nil, fmt.Errorf("want %d elements for %s, got %d", n, named, len(list))
		}
		out := make([]any, len(list))
		for i, e := range list {
			val, err := c.value(e, elem)
			if err != nil {
				return nil, fmt.Errorf("[%d]: %v", i, err)
			}
			out[i] = val
		}
		return out, nil
	case strings.HasPrefix(typ, "map["):
		obj, isObj := v.(map[string]any)
		if !isObj {
			return nil, fmt.Errorf("want a JSON object for %s, got %s", named, jsonKind(v))
		}
		key, elem, ok := splitMap(typ)
		if !ok {
			return generic(v), nil
		}
		out := make(map[any]any, len(obj))
		for _, k := range SortedKeys(obj) {
			kv, err := c.value(c.keyJSON(k, key), key)
			if err != nil {
				return nil, fmt.Errorf("key %q: %v", k, err)
			}
			val, err := c.value(obj[k], elem)
			if err != nil {
				return nil, fmt.Errorf("[%q]: %v", k, err)
			}
			out[kv] = val
		}
		return out, nil
	case c.types[typ] != nil && c.types[typ].Underlying == "struct":
		return c.structValue(v, c.types[typ])
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
		return integer(v, "int64")
	case typ == "string":
		if s, ok := v.(string); ok {
			return s, nil
		}
		return nil, fmt.Errorf("want a string for %s, got %s", named, jsonKind(v))
	case typ == "bool":
		if b, ok := v.(bool); ok {
			return b, nil
		}
		return nil, fmt.Errorf("want true or false for %s, got %s", named, jsonKind(v))
	case typ == "float64" || typ == "float32":
		n, ok := v.(json.Number)
		if !ok {
			return nil, fmt.Errorf("want a number for %s, got %s", named, jsonKind(v))
		}
		f, err := n.Float64()
		if err != nil {
			return nil, fmt.Errorf("want a number for %s: %v", named, err)
		}
		if typ == "float32" {
			if math.Abs(f) > math.MaxFloat32 {
				return nil, fmt.Errorf("%s is out of range for %s", n, named)
			}
			return float32(f), nil
		}
		return f, nil
	case isInt(typ):
		return integer(v, typ)
	}
	return generic(v), nil
}

// structValue converts a JSON object to the map msgpack decodes a struct
// from, refusing names the struct does not have: the server would drop
// them, and the call would run without the value meant for them.
func (c *converter) structValue(v any, td *runtime.TypeDescription) (any, error) {
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("want a JSON object for %s, got %s", td.Name, jsonKind(v))
	}
	out := make(map[string]any, len(obj))
	for _, k := range SortedKeys(obj) {
		i := slices.IndexFunc(td.Fields, func(f runtime.Field) bool { return f.Name == k })
		if i < 0 {
			names := make([]string, len(td.Fields))
			for j, f := range td.Fields {
				names[j] = f.Name
			}
			return nil, fmt.Errorf("%s has no field %q; its fields are %s", td.Name, k, strings.Join(names, ", "))
		}
		val, err := c.value(obj[k], td.Fields[i].Type)
		if err != nil {
			return nil, fmt.Errorf(".%s: %v", k, err)
		}
		out[k] = val
	}
	return out, nil
}

func integer(v any, typ string) (any, error) {
	n, ok := v.(json.Number)
	if !ok {
		return nil, fmt.Errorf("want an integer for %s, got %s", typ, jsonKind(v))
	}
	bits := intBits(typ)
	if strings.HasPrefix(typ, "uint") || typ == "byte" {
		u, err := strconv.ParseUint(n.String(), 10, bits)
		if err != nil {
			return nil, fmt.Errorf("want an integer from 0 to %d for %s, got %s", uint64(1)<<bits-1, typ, n)
		}
		return u, nil
	}
	i, err := strconv.ParseInt(n.String(), 10, bits)
	if err != nil {
		return nil, fmt.Errorf("want an integer from %d to %d for %s, got %s", -(int64(1) << (bits - 1)), int64(1)<<(bits-1)-1, typ, n)
	}
	return i, nil
}

// intBits is the size of an integer type; int, uint and uintptr are taken
// as 64 bits, as on the servers mqrpc runs on.
func intBits(typ string) int {
	switch typ {
	case "int8", "uint8", "byte":
		return 8
	case "int16", "uint16":
		return 16
	case "int32", "uint32", "rune":
		return 32
	}
	return 64
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

// arrayLen returns N of "[N]T", -1 for anything else.
func arrayLen(typ string) int {
	if arrayType(typ) == "" {
		return -1
	}
	n, _ := strconv.Atoi(typ[1:strings.IndexByte(typ, ']')])
	return n
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
func (c *converter) keyJSON(k, key string) any {
	key = c.resolve(key)
	if isInt(key) || key == "float64" || key == "float32" {
		return json.Number(k)
	}
	if key == "bool" {
		switch k {
		case "true":
			return true
		case "false":
			return false
		}
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
	case nil:
		return "null"
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

// Message parses raw into m: a JSON object in protojson's form, or an
// array of one, as the arguments of a positional method are written. Field
// names m does not have are refused.
func Message(raw string, m proto.Message) error {
	b := bytes.TrimSpace([]byte(raw))
	if len(b) > 0 && b[0] == '[' {
		var list []json.RawMessage
		if err := json.Unmarshal(b, &list); err != nil {
			return fmt.Errorf("the argument must be a JSON object, or an array of one: %v", err)
		}
		if len(list) != 1 {
			return fmt.Errorf("%d arguments given, the method takes 1 (%s)", len(list), m.ProtoReflect().Descriptor().FullName())
		}
		b = list[0]
	}
	if err := protojson.Unmarshal(b, m); err != nil {
		return fmt.Errorf("%s: %v", m.ProtoReflect().Descriptor().FullName(), err)
	}
	return nil
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
