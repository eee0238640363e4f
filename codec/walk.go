package codec

import (
	"encoding"
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/vmihailenco/msgpack/v5"
)

// Before msgpack decodes a body into a Go value, the codec walks the body
// against the value's type, as msgpack will decode it: arrays into slices
// and arrays, maps into maps and into structs by field name, through
// pointers and interfaces. The walk allocates nothing. It refuses
//
//   - an integer that does not fit the integer it is decoded into (msgpack
//     would truncate it: 300 into an int8 becomes 44), a float or nil for
//     an integer, and nil for a float;
//   - for a struct tagged `msgpack:",as_array"` (the generated argument
//     and result structs), anything but an array of exactly its fields:
//     msgpack decodes nil, an empty array or a map into zero values, which
//     would run a handler with arguments nobody sent;
//   - a body whose decoding would allocate more than the budget for its
//     size (ErrTooLarge): it adds up what msgpack allocates for each value
//     (a []T of n elements, 2n Ts, since msgpack makes a slice and copies
//     it; a map, its table and a new key and value per entry; a pointer,
//     its target; a string, its bytes; a value of an interface type, what
//     msgpack's generic decoding makes of it), and stops as soon as the sum
//     exceeds the budget. Measured allocations stay under the sum
//     (bounds_test.go).
//
// An as_array struct without fields also takes nil. Values msgpack hands
// to other code (custom decoders, time.Time, registered extensions) are
// costed as if decoded into an interface, and not checked. Nesting depth
// is checked before, by checkValue, which does not recurse; this walk and
// msgpack's decoder do, as deep as checkValue let through.

// planKind says how msgpack decodes into a type.
type planKind uint8

const (
	pOpaque    planKind = iota // decoded by code other than msgpack's reflection
	pAny                       // an interface: msgpack's generic decoding
	pBool                      // bool kinds
	pInt                       // signed integer kinds
	pUint                      // unsigned integer kinds
	pFloat                     // float kinds
	pString                    // string kinds
	pBytes                     // slices of a byte kind
	pByteArray                 // arrays of a byte kind
	pSlice                     // other slices
	pArray                     // other arrays
	pMap                       // maps
	pPtr                       // pointers
	pStruct                    // structs
)

// plan describes how msgpack decodes into typ, with what the walk needs.
type plan struct {
	kind planKind
	typ  reflect.Type
	size int64 // of a value of typ
	bits int   // of an integer kind
	elem *plan // of a slice, array, map or pointer
	key  *plan // of a map
	n    int   // length of an array

	// newEntry is what msgpack allocates per map entry besides the table:
	// a new key and value (reflect.New) for maps it decodes by
	// reflection.
	newEntry int64
	slotSize int64 // a map's key and value as its table stores them

	// Structs.
	fields  []structField // in msgpack's positional order
	byName  map[string]*structField
	asArray bool
	exact   bool   // fields and byName are msgpack's (no embedded structs)
	noun    string // "argument" or "result", for the errors of as_array structs
}

type structField struct {
	name  string // msgpack's name for it
	param string // the Go field name with its first letter lowered
	typ   string
	p     *plan
}

// plans caches planFor by type.
var plans sync.Map // reflect.Type -> *plan

var (
	customDecoderType     = reflect.TypeFor[msgpack.CustomDecoder]()
	unmarshalerType       = reflect.TypeFor[msgpack.Unmarshaler]()
	binaryUnmarshalerType = reflect.TypeFor[encoding.BinaryUnmarshaler]()
	textUnmarshalerType   = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// planFor returns the plan of t, building and caching it on first use.
func planFor(t reflect.Type) *plan {
	if p, ok := plans.Load(t); ok {
		return p.(*plan)
	}
	building := make(map[reflect.Type]*plan)
	p := buildPlan(t, building)
	for bt, bp := range building {
		plans.LoadOrStore(bt, bp)
	}
	return p
}

func buildPlan(t reflect.Type, building map[reflect.Type]*plan) *plan {
	if p, ok := plans.Load(t); ok {
		return p.(*plan)
	}
	if p := building[t]; p != nil {
		return p // a recursive type: filled in by the caller up the stack
	}
	p := &plan{typ: t, size: int64(t.Size())}
	building[t] = p
	if decodedElsewhere(t) {
		p.kind = pOpaque
		return p
	}
	switch t.Kind() {
	case reflect.Bool:
		p.kind = pBool
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		p.kind, p.bits = pInt, t.Bits()
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		p.kind, p.bits = pUint, t.Bits()
	case reflect.Float32, reflect.Float64:
		p.kind = pFloat
	case reflect.String:
		p.kind = pString
	case reflect.Interface:
		p.kind = pAny
	case reflect.Pointer:
		p.kind, p.elem = pPtr, buildPlan(t.Elem(), building)
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			p.kind = pBytes
		} else {
			p.kind, p.elem = pSlice, buildPlan(t.Elem(), building)
		}
	case reflect.Array:
		p.n = t.Len()
		if t.Elem().Kind() == reflect.Uint8 {
			p.kind = pByteArray
		} else {
			p.kind, p.elem = pArray, buildPlan(t.Elem(), building)
		}
	case reflect.Map:
		p.kind = pMap
		p.key, p.elem = buildPlan(t.Key(), building), buildPlan(t.Elem(), building)
		p.slotSize = mapSlot(t.Key()) + mapSlot(t.Elem())
		// map[string]string and map[string]any have decoders of their
		// own that make no values per entry; others make a new key and
		// value for each.
		if t.Key().Kind() != reflect.String || t.Key().Name() != "string" || t.Key().PkgPath() != "" ||
			(t.Elem() != reflect.TypeFor[string]() && t.Elem() != reflect.TypeFor[any]()) {
			p.newEntry = int64(t.Key().Size() + t.Elem().Size())
		}
		for _, kv := range []reflect.Type{t.Key(), t.Elem()} {
			if kv.Size() > 128 { // Go's maps store such keys and values out of line
				p.newEntry += int64(kv.Size())
			}
		}
	case reflect.Struct:
		p.kind = pStruct
		buildStruct(p, t, building)
	default:
		p.kind = pOpaque // msgpack refuses these types
	}
	return p
}

// decodedElsewhere reports whether msgpack hands values of t to a custom
// decoder rather than decoding them by reflection.
func decodedElsewhere(t reflect.Type) bool {
	for _, it := range []reflect.Type{customDecoderType, unmarshalerType, binaryUnmarshalerType, textUnmarshalerType} {
		if t.Implements(it) || t.Kind() != reflect.Pointer && reflect.PointerTo(t).Implements(it) {
			return true
		}
	}
	switch t.Kind() {
	case reflect.Struct, reflect.Map, reflect.Slice, reflect.Array:
		// time.Time, and types given to msgpack.RegisterExt, have
		// decoders registered by type, which msgpack does not expose;
		// they encode as an extension, which shows them.
		return encodesAsExt(t)
	}
	return false
}

func encodesAsExt(t reflect.Type) (ext bool) {
	defer func() {
		if recover() != nil {
			ext = false
		}
	}()
	b, err := msgpack.Marshal(reflect.New(t).Interface())
	if err != nil || len(b) == 0 {
		return false
	}
	c := b[0]
	return c >= 0xc7 && c <= 0xc9 || c >= 0xd4 && c <= 0xd8
}

// mapSlot is the room a map's table gives a key or value of type t.
func mapSlot(t reflect.Type) int64 {
	if t.Size() > 128 {
		return 8
	}
	return int64(t.Size())
}

func buildStruct(p *plan, t reflect.Type, building map[reflect.Type]*plan) {
	p.exact = true
	p.byName = make(map[string]*structField, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("msgpack"), ",")
		if name == "-" {
			continue
		}
		if f.Name == "_msgpack" {
			for o := range strings.SplitSeq(opts, ",") {
				if o == "as_array" || o == "asArray" {
					p.asArray = true
				}
			}
		}
		if f.Anonymous || strings.Contains(opts, "alias") {
			// msgpack inlines embedded structs and adds aliases by
			// rules not mirrored here: values for such a struct are
			// costed as unknown, not checked.
			p.exact = false
			continue
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		r, size := utf8.DecodeRuneInString(f.Name)
		sf := structField{name: name, param: string(unicode.ToLower(r)) + f.Name[size:], typ: f.Type.String(), p: buildPlan(f.Type, building)}
		p.fields = append(p.fields, sf)
	}
	for i := range p.fields {
		p.byName[p.fields[i].name] = &p.fields[i]
	}
	p.noun = "argument"
	if strings.Contains(t.Name(), "Results") {
		p.noun = "result"
	}
}

// Classes of msgpack values, by their first byte.
type class uint8

const (
	cNil class = iota
	cBool
	cInt // an integer; neg tells its sign
	cFloat
	cStr
	cBin
	cArray
	cMap
	cExt
)

// head is the header of the msgpack value at some position.
type head struct {
	class class
	neg   bool   // of a cInt: negative, with its value in int64(u)
	u     uint64 // an integer; the bits of a float
	n     int64  // payload bytes of str, bin and ext; elements of array and map (pairs)
	body  int    // where the payload or first element starts; for scalars, the end
}

// bigEndian reads a size-byte unsigned integer at b's start.
func bigEndian(b []byte, size int) uint64 {
	switch size {
	case 1:
		return uint64(b[0])
	case 2:
		return uint64(binary.BigEndian.Uint16(b))
	case 4:
		return uint64(binary.BigEndian.Uint32(b))
	}
	return binary.BigEndian.Uint64(b)
}

// readHead reads the header at pos. The data has passed checkValue, so
// every header and payload lies within it.
func readHead(data []byte, pos int) head {
	c := data[pos]
	switch {
	case c <= 0x7f:
		return head{class: cInt, u: uint64(c), body: pos + 1}
	case c >= 0xe0:
		return head{class: cInt, neg: true, u: uint64(int64(int8(c))), body: pos + 1}
	case c <= 0x8f:
		return head{class: cMap, n: int64(c & 0x0f), body: pos + 1}
	case c <= 0x9f:
		return head{class: cArray, n: int64(c & 0x0f), body: pos + 1}
	case c <= 0xbf:
		return head{class: cStr, n: int64(c & 0x1f), body: pos + 1}
	}
	switch c {
	case 0xc0:
		return head{class: cNil, body: pos + 1}
	case 0xc2, 0xc3:
		return head{class: cBool, body: pos + 1}
	case 0xc4, 0xc5, 0xc6:
		size := 1 << (c - 0xc4)
		return head{class: cBin, n: int64(bigEndian(data[pos+1:], size)), body: pos + 1 + size}
	case 0xd9, 0xda, 0xdb:
		size := 1 << (c - 0xd9)
		return head{class: cStr, n: int64(bigEndian(data[pos+1:], size)), body: pos + 1 + size}
	case 0xc7, 0xc8, 0xc9:
		size := 1 << (c - 0xc7)
		return head{class: cExt, n: int64(bigEndian(data[pos+1:], size)), body: pos + 2 + size}
	case 0xd4, 0xd5, 0xd6, 0xd7, 0xd8:
		return head{class: cExt, n: 1 << (c - 0xd4), body: pos + 2}
	case 0xca:
		return head{class: cFloat, u: math.Float64bits(float64(math.Float32frombits(binary.BigEndian.Uint32(data[pos+1:])))), body: pos + 5}
	case 0xcb:
		return head{class: cFloat, u: binary.BigEndian.Uint64(data[pos+1:]), body: pos + 9}
	case 0xcc, 0xcd, 0xce, 0xcf:
		size := 1 << (c - 0xcc)
		return head{class: cInt, u: bigEndian(data[pos+1:], size), body: pos + 1 + size}
	case 0xd0, 0xd1, 0xd2, 0xd3:
		size := 1 << (c - 0xd0)
		shift := 64 - 8*size
		n := int64(bigEndian(data[pos+1:], size)<<shift) >> shift // sign-extend
		return head{class: cInt, neg: n < 0, u: uint64(n), body: pos + 1 + size}
	case 0xdc, 0xdd:
		size := 2 << (c - 0xdc)
		return head{class: cArray, n: int64(bigEndian(data[pos+1:], size)), body: pos + 1 + size}
	case 0xde, 0xdf:
		size := 2 << (c - 0xde)
		return head{class: cMap, n: int64(bigEndian(data[pos+1:], size)), body: pos + 1 + size}
	}
	panic(fmt.Sprintf("msgpack: code %#x passed checkValue", c)) // unreachable
}

// end is where the value whose header is h ends, for values without
// elements.
func (h head) end() int {
	switch h.class {
	case cStr, cBin, cExt:
		return h.body + int(h.n)
	}
	return h.body
}

func (h head) String() string {
	switch h.class {
	case cNil:
		return "nil"
	case cBool:
		return "a bool"
	case cInt:
		if h.neg {
			return strconv.FormatInt(int64(h.u), 10)
		}
		return strconv.FormatUint(h.u, 10)
	case cFloat:
		return strconv.FormatFloat(math.Float64frombits(h.u), 'g', -1, 64)
	case cStr:
		return "a string"
	case cBin:
		return "a bin"
	case cArray:
		return fmt.Sprintf("an array of %d", h.n)
	case cMap:
		return fmt.Sprintf("a map of %d", h.n)
	}
	return "an ext"
}

// walker walks one body against a plan.
type walker struct {
	data   []byte
	cost   int64 // bytes msgpack will allocate for what was walked
	budget int64
}

// errBudget stops a walk as soon as the cost exceeds the budget; the
// caller turns it into an ErrTooLarge error with the figures.
var errBudget = fmt.Errorf("over budget")

func (w *walker) spend(n int64) error {
	w.cost += n
	if w.cost > w.budget {
		return errBudget
	}
	return nil
}

// walkError is a value refused at a path inside the body.
type walkError struct {
	path   []string // innermost first; the last is the outermost
	elided bool     // segments between path[maxPath-2] and the last were dropped
	msg    string
}

// maxPath bounds the segments an error names, so that an error deep in a
// body does not make a message as long as the body.
const maxPath = 24

func (e *walkError) Error() string {
	var b strings.Builder
	prevNamed := false
	for i := len(e.path) - 1; i >= 0; i-- {
		seg := e.path[i]
		named := !strings.HasPrefix(seg, ".") && !strings.HasPrefix(seg, "[")
		if b.Len() > 0 && (named || prevNamed) {
			b.WriteString(": ")
		}
		b.WriteString(seg)
		prevNamed = named
		if i == len(e.path)-1 && e.elided {
			b.WriteString("…")
		}
	}
	if b.Len() > 0 {
		b.WriteString(": ")
	}
	b.WriteString(e.msg)
	return b.String()
}

func refuse(format string, args ...any) error {
	return &walkError{msg: fmt.Sprintf(format, args...)}
}

// at puts err at path segment seg, which the segments already in err are
// inside of.
func at(err error, seg string) error {
	if we, ok := err.(*walkError); ok {
		if len(we.path) < maxPath {
			we.path = append(we.path, seg)
		} else {
			we.path[maxPath-1], we.elided = seg, true
		}
	}
	return err
}

// value walks the value at pos, to be decoded into p, and returns where it
// ends.
func (w *walker) value(p *plan, pos int) (int, error) {
	h := readHead(w.data, pos)
	switch p.kind {
	case pBool:
		if h.class != cBool && h.class != cNil {
			return 0, want("a bool", nil, h)
		}
		return h.body, nil
	case pInt:
		return h.body, p.checkInt(h)
	case pUint:
		return h.body, p.checkInt(h)
	case pFloat:
		if h.class != cFloat && h.class != cInt {
			return 0, want("a number", p.typ, h)
		}
		return h.body, nil
	case pString:
		if h.class != cStr && h.class != cBin && h.class != cNil {
			return 0, want("a string", nil, h)
		}
		return h.end(), w.spend(h.n)
	case pBytes, pByteArray:
		if h.class != cStr && h.class != cBin && h.class != cNil {
			return 0, want("bytes", nil, h)
		}
		if p.kind == pByteArray && h.n > int64(p.n) {
			return 0, tooLong(p, h)
		}
		if p.kind == pBytes {
			return h.end(), w.spend(h.n)
		}
		return h.end(), nil
	case pSlice, pArray:
		switch h.class {
		case cNil:
			return h.body, nil
		case cArray:
		default:
			return 0, want("an array", p.typ, h)
		}
		if p.kind == pArray && h.n > int64(p.n) {
			return 0, tooLong(p, h)
		}
		if p.kind == pSlice && h.n > 0 {
			// msgpack makes a slice of n and appends it to the nil
			// one, which copies it: twice the elements, and the
			// headers of both reflect.Values.
			if err := w.spend(2*h.n*p.elem.size + 64); err != nil {
				return 0, err
			}
		}
		if p.elem.kind == pString {
			return w.strings(h)
		}
		pos = h.body
		for i := range h.n {
			next, err := w.value(p.elem, pos)
			if err != nil {
				return 0, at(err, index(i))
			}
			pos = next
		}
		return pos, nil
	case pMap:
		switch h.class {
		case cNil:
			return h.body, nil
		case cMap:
		default:
			return 0, want("a map", p.typ, h)
		}
		if err := w.spend(mapTable(h.n, p.slotSize) + h.n*p.newEntry); err != nil {
			return 0, err
		}
		pos = h.body
		for range h.n {
			kh := readHead(w.data, pos)
			next, err := w.value(p.key, pos)
			if err != nil {
				return 0, at(err, "[key]")
			}
			if pos, err = w.value(p.elem, next); err != nil {
				return 0, at(err, w.keySegment(kh))
			}
		}
		return pos, nil
	case pPtr:
		if h.class == cNil {
			return h.body, nil
		}
		if err := w.spend(p.elem.size); err != nil {
			return 0, err
		}
		return w.value(p.elem, pos)
	case pStruct:
		return w.structValue(p, h, pos)
	case pAny:
		return w.generic(pos)
	}
	// pOpaque: a custom decoder; costed as msgpack's generic decoding
	// would, plus the value itself.
	if h.class == cNil {
		return h.body, nil
	}
	if err := w.spend(p.size); err != nil {
		return 0, err
	}
	return w.generic(pos)
}

// arrayStructError is what msgpack allocates when it decodes a struct
// from an array: the error of its first try as a map.
const arrayStructError = 32

// strings walks the elements of h, an array, into strings: value's
// pString case in a loop, for the common []string.
func (w *walker) strings(h head) (int, error) {
	pos := h.body
	for i := range h.n {
		eh := readHead(w.data, pos)
		if eh.class != cStr && eh.class != cBin && eh.class != cNil {
			return 0, at(want("a string", nil, eh), index(i))
		}
		w.cost += eh.n
		pos = eh.end()
	}
	if w.cost > w.budget {
		return 0, errBudget
	}
	return pos, nil
}

// The errors of a walk are made by functions of their own, so that the
// walk's frames hold none of the values formatting takes: they are on
// the hot path, the errors are not.

//go:noinline
func want(what string, typ reflect.Type, h head) error {
	if typ == nil {
		return refuse("want %s, got %v", what, h)
	}
	return refuse("want %s for %s, got %v", what, typ, h)
}

//go:noinline
func tooLong(p *plan, h head) error {
	if h.class == cArray {
		return refuse("an array of %d for %s", h.n, p.typ)
	}
	return refuse("%d bytes for %s", h.n, p.typ)
}

//go:noinline
func index(i int64) string { return "[" + strconv.FormatInt(i, 10) + "]" }

//go:noinline
func (p *plan) doesNotFit(h head) error {
	if p.kind == pUint {
		return refuse("%v does not fit in %s (0 to %d)", h, p.typ, uint64(math.MaxUint64)>>(64-p.bits))
	}
	lo, hi := int64(-1)<<(p.bits-1), int64(uint64(math.MaxUint64)>>(65-p.bits))
	return refuse("%v does not fit in %s (%d to %d)", h, p.typ, lo, hi)
}

// wrongArguments is the error for h, which is not an array of p's
// fields.
//
//go:noinline
func (p *plan) wrongArguments(h head) error {
	switch {
	case !p.asArray:
		return refuse("an array of %d for %s, which has %d fields", h.n, p.typ, len(p.fields))
	case h.class != cArray:
		return refuse("want an array of %d %ss (%s), got %v", len(p.fields), p.noun, p.signature(), h)
	case h.n > int64(len(p.fields)):
		return refuse("%d %ss given, want %d (%s)", h.n, p.noun, len(p.fields), p.signature())
	}
	return refuse("%s %d (%s) is missing: got %d of %d", p.noun, h.n+1, p.fields[h.n].param, h.n, len(p.fields))
}

// keySegment names the map entry whose key has header kh in an error.
func (w *walker) keySegment(kh head) string {
	switch {
	case kh.class == cStr && kh.n <= 64:
		return "[" + strconv.Quote(string(w.data[kh.body:kh.end()])) + "]"
	case kh.class == cInt:
		return "[" + kh.String() + "]"
	}
	return "[…]"
}

// checkInt fails unless the integer h fits p, an integer kind.
func (p *plan) checkInt(h head) error {
	if h.class != cInt {
		return want("an integer", p.typ, h)
	}
	if p.kind == pUint {
		if h.neg || p.bits < 64 && h.u >= 1<<p.bits {
			return p.doesNotFit(h)
		}
		return nil
	}
	lo, hi := int64(-1)<<(p.bits-1), int64(uint64(math.MaxUint64)>>(65-p.bits))
	if h.neg && int64(h.u) < lo || !h.neg && h.u > uint64(hi) {
		return p.doesNotFit(h)
	}
	return nil
}

func (w *walker) structValue(p *plan, h head, pos int) (int, error) {
	if p.asArray && p.exact {
		if h.class != cArray && !(h.class == cNil && len(p.fields) == 0) {
			return 0, p.wrongArguments(h)
		}
		if h.n > int64(len(p.fields)) {
			return 0, p.wrongArguments(h)
		}
		if h.n < int64(len(p.fields)) {
			return 0, p.wrongArguments(h)
		}
		if err := w.spend(arrayStructError); err != nil { // unless decoded by arrayStruct
			return 0, err
		}
		pos = h.body
		for i := range p.fields {
			next, err := w.value(p.fields[i].p, pos)
			if err != nil {
				return 0, at(err, fmt.Sprintf("%s %d (%s)", p.noun, i+1, p.fields[i].param))
			}
			pos = next
		}
		return pos, nil
	}
	switch h.class {
	case cNil:
		return h.body, nil
	case cArray:
		if h.n == 0 {
			return h.body, nil // msgpack: the zero value
		}
		// msgpack first tries the array as a map, and allocates the
		// error that fails.
		if err := w.spend(arrayStructError); err != nil {
			return 0, err
		}
		if !p.exact {
			return w.generic(pos)
		}
		if h.n != int64(len(p.fields)) {
			return 0, p.wrongArguments(h)
		}
		pos = h.body
		for i := range p.fields {
			next, err := w.value(p.fields[i].p, pos)
			if err != nil {
				return 0, at(err, "."+p.fields[i].name)
			}
			pos = next
		}
		return pos, nil
	case cMap:
		pos = h.body
		for range h.n {
			kh := readHead(w.data, pos)
			if kh.class != cStr && kh.class != cBin && kh.class != cNil {
				return 0, want("a field name", p.typ, kh)
			}
			name := w.data[kh.body:kh.end()]
			f := p.byName[string(name)] // no allocation: the compiler looks up without converting
			var err error
			switch {
			case f != nil:
				if pos, err = w.value(f.p, kh.end()); err != nil {
					return 0, at(err, "."+f.name)
				}
			case p.exact:
				pos = skipValue(w.data, kh.end()) // msgpack skips it, allocating nothing
			default:
				if pos, err = w.generic(kh.end()); err != nil {
					return 0, err
				}
			}
		}
		return pos, nil
	}
	return 0, want("a map or an array", p.typ, h)
}

// signature lists an as_array struct's fields as parameters: "a int, b string".
func (p *plan) signature() string {
	parts := make([]string, len(p.fields))
	for i, f := range p.fields {
		parts[i] = f.param + " " + f.typ
	}
	return strings.Join(parts, ", ")
}

// generic walks the value at pos as msgpack's generic decoding (into an
// interface) would decode it and adds what that allocates: a boxed
// scalar, a string's bytes, a []any or map[string]any.
func (w *walker) generic(pos int) (int, error) {
	h := readHead(w.data, pos)
	var cost int64
	switch h.class {
	case cNil, cBool:
		return h.body, nil
	case cInt, cFloat:
		return h.body, w.spend(8)
	case cStr:
		cost = 16 + h.n
	case cBin:
		cost = 24 + h.n
	case cExt:
		cost = 64 + h.n
	case cArray:
		if err := w.spend(24 + 16*h.n); err != nil {
			return 0, err
		}
		pos = h.body
		for range h.n {
			next, err := w.generic(pos)
			if err != nil {
				return 0, err
			}
			pos = next
		}
		return pos, nil
	case cMap:
		if err := w.spend(8 + mapTable(h.n, 32)); err != nil {
			return 0, err
		}
		pos = h.body
		for range 2 * h.n {
			next, err := w.generic(pos)
			if err != nil {
				return 0, err
			}
			pos = next
		}
		return pos, nil
	}
	return h.end(), w.spend(cost)
}

// skipValue returns where the value at pos ends.
func skipValue(data []byte, pos int) int {
	h := readHead(data, pos)
	var n int64
	switch h.class {
	case cArray:
		n = h.n
	case cMap:
		n = 2 * h.n
	default:
		return h.end()
	}
	pos = h.body
	for range n {
		pos = skipValue(data, pos)
	}
	return pos
}

// mapTable estimates what a Go map made for n entries allocates, with
// slots of slot bytes: groups of 8 slots and a control word, at most 7/8
// full, in tables sized by powers of two.
func mapTable(n, slot int64) int64 {
	if n == 0 {
		return 48
	}
	slots := max(int64(8), int64(1)<<bits.Len64(uint64(n*8/7)))
	return 48 + slots*(slot+1) + slots/8*8
}
