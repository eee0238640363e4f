package main

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/mqrpc/mqrpc/codec"
	"github.com/mqrpc/mqrpc/internal/jsonargs"
	"github.com/mqrpc/mqrpc/runtime"
)

// change is one difference between a stored reply and its replay: where
// the value is and its JSON on each side, nil where it is absent.
type change struct {
	Path   string          `json:"path"`
	Stored json.RawMessage `json:"stored,omitempty"`
	Replay json.RawMessage `json:"replay,omitempty"`
}

func (c change) String() string {
	side := func(v json.RawMessage) string {
		if v == nil {
			return "(absent)"
		}
		return string(v)
	}
	return c.Path + ": " + side(c.Stored) + " -> " + side(c.Replay)
}

// replyChanges lists what differs between the stored reply of r and its
// replay, field by field: the status, else every value of the results
// that differs, named by its path ("results[0].Origin.X",
// `results[1]["k"]`, "response.sum"). It returns nil when the decoded
// replies are equal (their bodies may still differ in their bytes).
func replyChanges(r *replayed) []change {
	st, rp := r.Stored, r.Replay
	if st == nil || rp == nil {
		return nil
	}
	if st.Code != rp.Code || st.Message != rp.Message {
		return []change{{Path: "status", Stored: jsonValue(st.statusText()), Replay: jsonValue(rp.statusText())}}
	}
	if st.Code != 0 || !isMsgpack(st.codec) || !isMsgpack(rp.codec) {
		// Error details, and bodies of other codecs, are not decoded.
		return nil
	}
	root, s := "results", schema(nil)
	switch {
	case r.desc != nil && r.desc.Body == runtime.BodyMessage.String():
		root = "response"
		if _, resp, err := r.svc.ProtoMessages(r.desc.Name); err == nil {
			s = protoMessage{resp}
		}
	case r.desc != nil:
		s = resultsSchema{fields: r.desc.Results, types: typeIndex(r.svc)}
	default:
		// Undescribed: a positional body is an array, a message a map.
		if _, ok := st.Results.([]any); !ok {
			root = "response"
		}
	}
	var d differ
	d.walk(root, s, st.Results, rp.Results, true, true)
	return d.changes
}

func isMsgpack(codecName string) bool { return codecName == "" || codecName == codec.Msgpack.Name() }

func (v *replyView) statusText() string {
	if v.Code == 0 {
		return v.Status
	}
	return v.Status + ": " + v.Message
}

func jsonValue(v any) json.RawMessage { return json.RawMessage(jsonargs.Marshal(v)) }

// differ collects the changes between two decoded values.
type differ struct {
	changes []change
}

// walk compares a and b (each present or not) at path; s, when not nil,
// knows what the value is and names its parts.
func (d *differ) walk(path string, s schema, a, b any, hasA, hasB bool) {
	if hasA && hasB {
		switch av := a.(type) {
		case map[string]any:
			if bv, ok := b.(map[string]any); ok {
				for _, k := range unionKeys(av, bv) {
					name, sub := keyOf(s, k)
					x, okx := av[k]
					y, oky := bv[k]
					d.walk(path+name, sub, x, y, okx, oky)
				}
				return
			}
		case []any:
			if bv, ok := b.([]any); ok {
				for i := range max(len(av), len(bv)) {
					var x, y any
					if i < len(av) {
						x = av[i]
					}
					if i < len(bv) {
						y = bv[i]
					}
					d.walk(path+"["+strconv.Itoa(i)+"]", elemOf(s, i), x, y, i < len(av), i < len(bv))
				}
				return
			}
		}
		if jsonargs.Marshal(a) == jsonargs.Marshal(b) {
			return
		}
	}
	c := change{Path: path}
	if hasA {
		c.Stored = jsonValue(a)
	}
	if hasB {
		c.Replay = jsonValue(b)
	}
	d.changes = append(d.changes, c)
}

// unionKeys returns the keys of a and b, each once, in order: by number
// when every key is an integer (map[int]T), else as strings.
func unionKeys(a, b map[string]any) []string {
	keys := make([]string, 0, len(a)+len(b))
	for k := range a {
		keys = append(keys, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	ints := make(map[string]int64, len(keys))
	for _, k := range keys {
		n, err := strconv.ParseInt(k, 10, 64)
		if err != nil {
			slices.Sort(keys)
			return keys
		}
		ints[k] = n
	}
	slices.SortFunc(keys, func(x, y string) int { return cmp.Compare(ints[x], ints[y]) })
	return keys
}

// schema names the parts of a decoded value and knows the schema of each.
type schema interface {
	// key returns how the entry k of a map (or field k of a struct)
	// is written after the value's path, ".X" or `["k"]`, and its schema.
	key(k string) (string, schema)
	// elem returns the schema of element i of an array.
	elem(i int) schema
}

func keyOf(s schema, k string) (string, schema) {
	if s == nil {
		return guessKey(k), nil
	}
	return s.key(k)
}

func elemOf(s schema, i int) schema {
	if s == nil {
		return nil
	}
	return s.elem(i)
}

// guessKey writes a key of a value without a schema: a struct's field
// names are exported Go identifiers, so those read as fields (".Origin"),
// numbers as indexes ("[3]") and anything else as a quoted map key.
func guessKey(k string) string {
	if r, _ := utf8.DecodeRuneInString(k); unicode.IsUpper(r) && isIdent(k) {
		return "." + k
	}
	return mapKey(k, false)
}

// mapKey writes a map key: quoted when the key type is a string, else as
// it is when it reads as a number or a bool.
func mapKey(k string, stringKey bool) string {
	if !stringKey {
		if _, err := strconv.ParseFloat(k, 64); err == nil || k == "true" || k == "false" {
			return "[" + k + "]"
		}
	}
	return "[" + strconv.Quote(k) + "]"
}

func isIdent(s string) bool {
	for i, r := range s {
		if !(r == '_' || unicode.IsLetter(r) || (i > 0 && unicode.IsDigit(r))) {
			return false
		}
	}
	return s != ""
}

// resultsSchema is the array of a positional method's results.
type resultsSchema struct {
	fields []runtime.Field
	types  map[string]*runtime.TypeDescription
}

func (s resultsSchema) key(k string) (string, schema) { return guessKey(k), nil }

func (s resultsSchema) elem(i int) schema {
	if i >= len(s.fields) {
		return nil
	}
	return goSchema{typ: s.fields[i].Type, types: s.types}
}

func typeIndex(svc *runtime.ServiceDescription) map[string]*runtime.TypeDescription {
	m := map[string]*runtime.TypeDescription{}
	if svc != nil {
		for i := range svc.Types {
			m[svc.Types[i].Name] = &svc.Types[i]
		}
	}
	return m
}

// goSchema is a Go type as a description writes it ("[]string",
// "map[int]calculator.Series", "*kinds.Record"); named types resolve
// through the description's types.
type goSchema struct {
	typ   string
	types map[string]*runtime.TypeDescription
}

// resolve returns the type beneath pointers and names, and the struct
// description when it is a described struct.
func (s goSchema) resolve() (string, *runtime.TypeDescription) {
	t := s.typ
	for range 32 { // a description cannot loop, but a hostile one could
		t = strings.TrimLeft(t, "*")
		td := s.types[t]
		switch {
		case td == nil:
			return t, nil
		case td.Underlying == "struct":
			return t, td
		}
		t = td.Underlying
	}
	return t, nil
}

func (s goSchema) key(k string) (string, schema) {
	t, td := s.resolve()
	if td != nil {
		for _, f := range td.Fields {
			if f.Name == k {
				return "." + k, goSchema{typ: f.Type, types: s.types}
			}
		}
		return guessKey(k), nil
	}
	if key, elem, ok := splitMapType(t); ok {
		kt, _ := goSchema{typ: key, types: s.types}.resolve()
		return mapKey(k, kt == "string"), goSchema{typ: elem, types: s.types}
	}
	return guessKey(k), nil
}

func (s goSchema) elem(int) schema {
	t, _ := s.resolve()
	if rest, ok := strings.CutPrefix(t, "["); ok {
		if _, elem, ok := strings.Cut(rest, "]"); ok {
			return goSchema{typ: elem, types: s.types}
		}
	}
	return nil
}

// splitMapType splits "map[K]V" into K and V, K possibly with brackets of
// its own ("map[shared.Pair[string, int]]bool").
func splitMapType(t string) (key, elem string, ok bool) {
	rest, ok := strings.CutPrefix(t, "map[")
	if !ok {
		return "", "", false
	}
	depth := 1
	for i, r := range rest {
		switch r {
		case '[':
			depth++
		case ']':
			if depth--; depth == 0 {
				return rest[:i], rest[i+1:], true
			}
		}
	}
	return "", "", false
}

// protoMessage is a protobuf message in msgpack: a map keyed by field
// number (PROTOCOL.md section 5.2), whose parts are named by field name.
type protoMessage struct {
	md protoreflect.MessageDescriptor
}

func (s protoMessage) key(k string) (string, schema) {
	n, err := strconv.ParseInt(k, 10, 32)
	if err != nil {
		return mapKey(k, false), nil
	}
	fd := s.md.Fields().ByNumber(protoreflect.FieldNumber(n))
	if fd == nil {
		return "[" + k + "]", nil // unknown fields (key 0) or a newer schema
	}
	return "." + string(fd.Name()), protoField(fd, false)
}

func (s protoMessage) elem(int) schema { return nil }

// protoField is the schema of a field's value; elemOnly asks for one
// element of a repeated field.
func protoField(fd protoreflect.FieldDescriptor, elemOnly bool) schema {
	switch {
	case fd.IsMap() && !elemOnly:
		return protoMap{fd}
	case fd.IsList() && !elemOnly:
		return protoList{fd}
	case fd.Message() != nil:
		return protoMessage{fd.Message()}
	}
	return nil
}

type protoList struct{ fd protoreflect.FieldDescriptor }

func (s protoList) key(k string) (string, schema) { return mapKey(k, false), nil }
func (s protoList) elem(int) schema               { return protoField(s.fd, true) }

type protoMap struct{ fd protoreflect.FieldDescriptor }

func (s protoMap) key(k string) (string, schema) {
	return mapKey(k, s.fd.MapKey().Kind() == protoreflect.StringKind), protoField(s.fd.MapValue(), false)
}

func (s protoMap) elem(int) schema { return nil }

// printChanges writes the changes of a call for -diff, at most limit of
// them, then how many more there are.
func printChanges(e *env, cs []change, limit int) {
	for i, c := range cs {
		if i == limit {
			fmt.Fprintf(e.stdout, "    ... and %d more changed %s\n", len(cs)-limit, plural(len(cs)-limit, "value", "values"))
			return
		}
		fmt.Fprintf(e.stdout, "    %s\n", c)
	}
}
