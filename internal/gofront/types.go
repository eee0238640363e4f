package gofront

import (
	"fmt"
	"go/types"
	"reflect"
	"strings"

	"github.com/mqrpc/mqrpc/internal/model"
)

// canOnlySend is the hint for values msgpack has no encoding for.
const canOnlySend = "mqrpc can only send values that msgpack encodes"

// check returns why t cannot travel as an argument or result, or "" when
// it can. It looks through pointers, containers and the exported fields of
// structs (msgpack skips unexported ones), once per named type so that
// recursive types end.
func (l *loader) check(t types.Type) string {
	return l.checkIn(t, "", map[*types.Named]bool{})
}

// checkIn checks t, found at where ("" for the parameter itself, else a
// description such as "field Point.X").
func (l *loader) checkIn(t types.Type, where string, seen map[*types.Named]bool) string {
	bad := func(what, hint string) string {
		if where == "" {
			return "is " + what + "; " + hint
		}
		return "has " + what + " in " + where + "; " + hint
	}
	iface := func(t types.Type) string {
		return bad(fmt.Sprintf("an interface (%s)", l.typeString(t)), "mqrpc needs a concrete type to decode into")
	}
	switch t := t.(type) {
	case *types.Alias:
		return l.checkIn(types.Unalias(t), where, seen)
	case *types.Basic:
		switch {
		case t.Kind() == types.Invalid:
			if where == "" {
				return "does not type-check"
			}
			return "does not type-check in " + where
		case t.Info()&types.IsComplex != 0:
			return bad(fmt.Sprintf("a complex number (%s)", t.Name()), "msgpack has none; send two floats")
		case t.Kind() == types.UnsafePointer:
			return bad("an unsafe.Pointer", canOnlySend)
		case t.Kind() == types.Uintptr:
			return bad("a uintptr", "msgpack cannot encode it; use uint64")
		}
		return ""
	case *types.Named:
		if seen[t] {
			return ""
		}
		seen[t] = true
		obj := t.Obj()
		if obj.Pkg() == nil { // error
			return iface(t)
		}
		if obj.Pkg() != l.pkg.Types && !obj.Exported() {
			return bad(fmt.Sprintf("a type unexported in package %s (%s)", obj.Pkg().Name(), l.typeString(t)), "generated code cannot name it")
		}
		if _, ok := t.Underlying().(*types.Interface); ok {
			return iface(t)
		}
		if s, ok := t.Underlying().(*types.Struct); ok {
			return l.checkFields(s, l.typeString(t), where, seen)
		}
		return l.checkIn(t.Underlying(), where, seen)
	case *types.Pointer:
		return l.checkIn(t.Elem(), where, seen)
	case *types.Slice:
		return l.checkIn(t.Elem(), where, seen)
	case *types.Array:
		return l.checkIn(t.Elem(), where, seen)
	case *types.Map:
		if r := l.checkIn(t.Key(), where, seen); r != "" {
			return r
		}
		return l.checkIn(t.Elem(), where, seen)
	case *types.Struct:
		return l.checkFields(t, "struct", where, seen)
	case *types.Chan:
		return bad(fmt.Sprintf("a channel (%s)", l.typeString(t)), canOnlySend)
	case *types.Signature:
		return bad(fmt.Sprintf("a func (%s)", l.typeString(t)), canOnlySend)
	case *types.Interface:
		return iface(t)
	case *types.TypeParam:
		return bad(fmt.Sprintf("a type parameter (%s)", t.Obj().Name()), "a service needs concrete types")
	}
	return bad(fmt.Sprintf("an unsupported type (%s)", l.typeString(t)), canOnlySend)
}

// checkFields checks the fields msgpack encodes: exported or embedded, not
// tagged msgpack:"-".
func (l *loader) checkFields(s *types.Struct, owner, where string, seen map[*types.Named]bool) string {
	for i := range s.NumFields() {
		f := s.Field(i)
		if !f.Exported() && !f.Embedded() {
			continue
		}
		if name, _, _ := strings.Cut(reflect.StructTag(s.Tag(i)).Get("msgpack"), ","); name == "-" {
			continue
		}
		at := "field " + owner + "." + f.Name()
		if where != "" {
			at += " of " + where
		}
		if r := l.checkIn(f.Type(), at, seen); r != "" {
			return r
		}
	}
	return ""
}

// toModel describes a type that check accepted.
func (l *loader) toModel(t types.Type) *model.Type {
	switch t := t.(type) {
	case *types.Alias:
		// Keep an exported alias as written (it is what the user reads);
		// see through the rest, such as any.
		obj := t.Obj()
		if obj.Pkg() != nil && (obj.Exported() || obj.Pkg() == l.pkg.Types) {
			return &model.Type{Kind: model.Named, Name: obj.Name(), ImportPath: obj.Pkg().Path(), PkgName: obj.Pkg().Name(), TypeArgs: l.typeArgs(t.TypeArgs())}
		}
		return l.toModel(types.Unalias(t))
	case *types.Basic:
		return &model.Type{Kind: model.Basic, Name: t.Name()}
	case *types.Named:
		obj := t.Obj()
		if obj.Pkg() == nil {
			return &model.Type{Kind: model.Basic, Name: obj.Name()}
		}
		return &model.Type{Kind: model.Named, Name: obj.Name(), ImportPath: obj.Pkg().Path(), PkgName: obj.Pkg().Name(), TypeArgs: l.typeArgs(t.TypeArgs())}
	case *types.Pointer:
		return &model.Type{Kind: model.Pointer, Elem: l.toModel(t.Elem())}
	case *types.Slice:
		return &model.Type{Kind: model.Slice, Elem: l.toModel(t.Elem())}
	case *types.Array:
		return &model.Type{Kind: model.Array, Len: t.Len(), Elem: l.toModel(t.Elem())}
	case *types.Map:
		return &model.Type{Kind: model.Map, Key: l.toModel(t.Key()), Elem: l.toModel(t.Elem())}
	case *types.Struct:
		mt := &model.Type{Kind: model.Struct}
		for i := range t.NumFields() {
			f := t.Field(i)
			mf := model.Field{Type: l.toModel(f.Type()), Tag: t.Tag(i)}
			if !f.Embedded() {
				mf.Name = f.Name()
			}
			mt.Fields = append(mt.Fields, mf)
		}
		return mt
	}
	panic(fmt.Sprintf("gofront: toModel(%T) after check accepted it", t))
}

func (l *loader) typeArgs(list *types.TypeList) []*model.Type {
	if list.Len() == 0 {
		return nil
	}
	out := make([]*model.Type, list.Len())
	for i := range out {
		out[i] = l.toModel(list.At(i))
	}
	return out
}

// kindOf names the kind of a non-interface type for messages.
func kindOf(t types.Type) string {
	switch t := t.(type) {
	case *types.Struct:
		return "a struct type"
	case *types.Basic:
		return "a " + t.Name() + " type"
	case *types.Signature:
		return "a func type"
	case *types.Map:
		return "a map type"
	case *types.Slice:
		return "a slice type"
	case *types.Pointer:
		return "a pointer type"
	case *types.Chan:
		return "a channel type"
	case *types.Array:
		return "an array type"
	}
	return "another kind of type"
}

func objectKind(obj types.Object) string {
	switch obj.(type) {
	case *types.Func:
		return "func"
	case *types.Var:
		return "var"
	case *types.Const:
		return "const"
	}
	return "declaration"
}

// distance is the Levenshtein distance between a and b, for suggestions.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
