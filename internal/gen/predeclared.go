package gen

import (
	"fmt"
	"path/filepath"

	"github.com/dave/jennifer/jen"

	"github.com/mqrpc/mqrpc/internal/model"
)

// predeclared lists Go's predeclared identifiers (the universe scope).
// A package may declare any of them at package scope, hiding the
// predeclared one from every file of the package, the generated one too.
var predeclared = []string{
	"any", "bool", "byte", "comparable", "complex64", "complex128", "error",
	"float32", "float64", "int", "int8", "int16", "int32", "int64", "rune",
	"string", "uint", "uint8", "uint16", "uint32", "uint64", "uintptr",
	"true", "false", "iota", "nil",
	"append", "cap", "clear", "close", "complex", "copy", "delete", "imag",
	"len", "make", "max", "min", "new", "panic", "print", "println", "real",
	"recover",
}

// spelling writes the predeclared identifiers that generated code can do
// without in a form no package-scope declaration hides: a package that
// declares its own new gets &T{}, one that declares its own any gets
// interface{}. Every other package gets the usual spelling.
type spelling struct{ ownNew, ownAny bool }

func newSpelling(taken *namer) spelling {
	return spelling{ownNew: taken.has("new"), ownAny: taken.has("any")}
}

// newValue is a pointer to a new zero t, which is a struct type.
func (s spelling) newValue(t *jen.Statement) *jen.Statement {
	if s.ownNew {
		return jen.Op("&").Add(t).Values()
	}
	return jen.New(t)
}

// anyType is the empty interface.
func (s spelling) anyType() *jen.Statement {
	if s.ownAny {
		return jen.Interface()
	}
	return jen.Any()
}

// predeclaredUses lists the predeclared identifiers the code generated
// for svc refers to and cannot spell another way (spelling covers new and
// any), in a stable order.
func predeclaredUses(svc *model.Service) []string {
	uses := []string{"error", "nil"}
	seen := map[string]bool{"error": true, "nil": true}
	add := func(name string) {
		if !seen[name] {
			seen[name] = true
			uses = append(uses, name)
		}
	}
	var walk func(t *model.Type)
	walk = func(t *model.Type) {
		if t == nil {
			return
		}
		if t.Kind == model.Basic {
			add(t.Name)
		}
		for _, a := range t.TypeArgs {
			walk(a)
		}
		walk(t.Key)
		walk(t.Elem)
		for _, fl := range t.Fields {
			walk(fl.Type)
		}
	}
	for _, m := range svc.Methods {
		if m.OneWay || m.Idempotent {
			add("true") // MethodDesc.OneWay, MethodDesc.Idempotent
		}
		for _, p := range m.Params {
			walk(p.Type)
		}
		for _, r := range m.Results {
			walk(r.Type)
		}
	}
	return uses
}

// redeclaredPredeclared refuses svc when its generated code would refer to
// a predeclared identifier that the package declares for itself: that code
// would not compile, or would mean something else.
func redeclaredPredeclared(svc *model.Service, taken *namer, pkg string) model.Errors {
	var errs model.Errors
	for _, name := range predeclaredUses(svc) {
		pos, ok := taken.pos(name)
		if !ok {
			continue
		}
		errs = append(errs, &model.Error{
			Pos:     svc.Pos,
			Subject: "service " + svc.Name,
			Msg:     fmt.Sprintf("generated code uses the predeclared %s, which package %s redeclares at %s:%d; rename it", name, pkg, filepath.Base(pos.Filename), pos.Line),
		})
	}
	return errs
}
