// Package gofront turns Go interfaces into model services. It loads the
// package with golang.org/x/tools/go/packages, checks that every method is
// something mqrpc can carry, and describes it without go/types so that the
// emitter never depends on how the service was declared.
//
// A method shaped like a protobuf RPC, M(ctx, *Req) (*Resp, error) with
// Req and Resp protobuf messages, is described as the protobuf front end
// describes the .proto method: its request and reply bodies are the
// messages themselves (model.Message), so the Go interface and the .proto
// service are one service on the wire. Every other method, one-way ones
// included (they return only error), travels as positional arrays.
package gofront

import (
	"cmp"
	"errors"
	"fmt"
	"go/token"
	"go/types"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/tools/go/packages"

	"github.com/mqrpc/mqrpc/internal/model"
)

// Config says what to load.
type Config struct {
	// Dir is the package directory.
	Dir string
	// Tags are build tags, as for go build -tags.
	Tags string
	// Types are the interfaces to describe, in this order.
	Types []string
	// Replacing lists files that generation is about to overwrite. Their
	// declarations (an older generated file) do not count as taken names.
	Replacing []string
}

// Load describes cfg.Types of the package in cfg.Dir. Problems with the
// interfaces are returned together as model.Errors; a type error elsewhere
// in the package does not stop an interface that type-checks.
func Load(cfg Config) (*model.File, error) {
	pcfg := &packages.Config{
		Mode: packages.NeedName | packages.NeedFiles | packages.NeedCompiledGoFiles |
			packages.NeedSyntax | packages.NeedTypes | packages.NeedTypesInfo,
		Dir: cfg.Dir,
	}
	if cfg.Tags != "" {
		pcfg.BuildFlags = []string{"-tags=" + cfg.Tags}
	}
	pkgs, err := packages.Load(pcfg, ".")
	if err != nil {
		return nil, fmt.Errorf("load package in %s: %w", cfg.Dir, err)
	}
	if len(pkgs) != 1 {
		return nil, fmt.Errorf("load package in %s: found %d packages, want 1", cfg.Dir, len(pkgs))
	}
	pkg := pkgs[0]
	if pkg.Types == nil || pkg.Types.Scope() == nil || len(pkg.Syntax) == 0 {
		return nil, fmt.Errorf("load package in %s: %w", cfg.Dir, packageErrors(pkg))
	}
	l := &loader{pkg: pkg, docs: newDocIndex(pkg)}
	f := &model.File{
		Package:    pkg.Name,
		ImportPath: pkg.PkgPath,
		Taken:      l.taken(cfg.Replacing),
	}
	var errs model.Errors
	for _, name := range cfg.Types {
		svc, err := l.service(name)
		errs = append(errs, err...)
		if svc != nil {
			f.Services = append(f.Services, svc)
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return f, nil
}

func packageErrors(pkg *packages.Package) error {
	var errs []error
	for _, e := range pkg.Errors {
		errs = append(errs, e)
	}
	if len(errs) == 0 {
		return errors.New("no Go package")
	}
	return errors.Join(errs...)
}

type loader struct {
	pkg  *packages.Package
	docs *docIndex
}

func (l *loader) position(p token.Pos) model.Pos {
	pos := l.pkg.Fset.Position(p)
	return model.Pos{Filename: pos.Filename, Line: pos.Line, Column: pos.Column}
}

// taken lists the package-scope identifiers, except those declared in
// files about to be replaced.
func (l *loader) taken(replacing []string) []model.Ident {
	skip := map[string]bool{}
	for _, f := range replacing {
		if abs, err := filepath.Abs(f); err == nil {
			skip[abs] = true
		}
	}
	scope := l.pkg.Types.Scope()
	var ids []model.Ident
	for _, name := range scope.Names() {
		pos := l.position(scope.Lookup(name).Pos())
		if skip[pos.Filename] {
			continue
		}
		ids = append(ids, model.Ident{Name: name, Pos: pos})
	}
	return ids
}

// service describes the interface called name.
func (l *loader) service(name string) (*model.Service, model.Errors) {
	subject := "-type " + name
	obj := l.pkg.Types.Scope().Lookup(name)
	tn, ok := obj.(*types.TypeName)
	if !ok {
		msg := fmt.Sprintf("no such type in package %s", l.pkg.Name)
		if s := l.suggest(name); s != "" {
			msg += fmt.Sprintf(" (did you mean %s?)", s)
		}
		if obj != nil {
			msg = fmt.Sprintf("%s is a %s, not a type", name, objectKind(obj))
		}
		return nil, model.Errors{{Pos: l.objPos(obj), Subject: subject, Msg: msg}}
	}
	pos := l.position(tn.Pos())
	refuse := func(format string, args ...any) (*model.Service, model.Errors) {
		return nil, model.Errors{{Pos: pos, Subject: subject, Msg: fmt.Sprintf(format, args...)}}
	}
	if tn.IsAlias() {
		return refuse("%s is an alias; name the interface it stands for", name)
	}
	if !tn.Exported() {
		return refuse("%s is unexported; export it, as the client and Register function generated for it are exported", name)
	}
	named, ok := tn.Type().(*types.Named)
	if !ok {
		return refuse("%s is not a declared type", name)
	}
	if named.TypeParams().Len() > 0 {
		return refuse("%s is generic; a service needs concrete parameter types", name)
	}
	iface, ok := named.Underlying().(*types.Interface)
	if !ok {
		return refuse("%s is %s, not an interface", name, kindOf(named.Underlying()))
	}
	if !iface.IsMethodSet() {
		return refuse("%s is a constraint interface (it lists types); a service interface has only methods", name)
	}

	svc := &model.Service{
		Name:     name,
		FullName: l.pkg.Name + "." + name,
		Doc:      l.docs.typeDoc(tn.Pos()),
		Pos:      pos,
	}
	var errs model.Errors
	for _, fn := range l.sortedMethods(iface) {
		m, err := l.method(fn)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		svc.Methods = append(svc.Methods, m)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return svc, nil
}

func (l *loader) objPos(obj types.Object) model.Pos {
	if obj == nil {
		return model.Pos{}
	}
	return l.position(obj.Pos())
}

// suggest returns the declared type whose name is closest to name, if
// any is close enough to be a typo.
func (l *loader) suggest(name string) string {
	best, bestDist := "", 3
	scope := l.pkg.Types.Scope()
	for _, n := range scope.Names() {
		if _, ok := scope.Lookup(n).(*types.TypeName); !ok {
			continue
		}
		d := distance(strings.ToLower(name), strings.ToLower(n))
		if d < bestDist {
			best, bestDist = n, d
		}
	}
	return best
}

// sortedMethods returns the interface's methods in declaration order:
// first those declared in this package (by file and offset), then those of
// embedded interfaces from other packages by import path. go/types sorts
// them by name, which would scatter a service's methods; positions of other
// packages are compared by base file name so the order does not depend on
// where the module cache is.
func (l *loader) sortedMethods(iface *types.Interface) []*types.Func {
	type key struct {
		other  bool
		path   string
		file   string
		offset int
	}
	keyOf := func(fn *types.Func) key {
		p := l.pkg.Fset.Position(fn.Pos())
		k := key{file: filepath.Base(p.Filename), offset: p.Offset}
		if fn.Pkg() != nil && fn.Pkg() != l.pkg.Types {
			k.other, k.path = true, fn.Pkg().Path()
		}
		return k
	}
	fns := make([]*types.Func, iface.NumMethods())
	for i := range fns {
		fns[i] = iface.Method(i)
	}
	slices.SortStableFunc(fns, func(a, b *types.Func) int {
		ka, kb := keyOf(a), keyOf(b)
		if ka.other != kb.other {
			if ka.other {
				return 1
			}
			return -1
		}
		return cmp.Or(cmp.Compare(ka.path, kb.path), cmp.Compare(ka.file, kb.file), cmp.Compare(ka.offset, kb.offset), cmp.Compare(a.Name(), b.Name()))
	})
	return fns
}

// method describes one interface method, or says why mqrpc cannot carry it.
func (l *loader) method(fn *types.Func) (*model.Method, *model.Error) {
	m := &model.Method{Name: fn.Name(), Pos: l.position(fn.Pos())}
	refuse := func(format string, args ...any) (*model.Method, *model.Error) {
		return nil, &model.Error{Pos: m.Pos, Subject: "method " + fn.Name(), Msg: fmt.Sprintf(format, args...)}
	}
	if !fn.Exported() {
		return refuse("unexported methods cannot be served or called from another package; export it or leave it out of the service")
	}
	doc, directives := l.docs.methodDoc(fn)
	m.Doc, m.OneWay, m.Idempotent = doc, directives.oneWay, directives.idempotent

	sig := fn.Signature()
	params, results := sig.Params(), sig.Results()
	if params.Len() == 0 {
		return refuse("has no parameters; the first must be context.Context")
	}
	if !isContext(params.At(0).Type()) {
		return refuse("first parameter must be context.Context, got %s", l.typeString(params.At(0).Type()))
	}
	if sig.Variadic() {
		last := params.At(params.Len() - 1)
		return refuse("parameter %d %sis variadic (...%s); take a slice instead", params.Len(), paramName(last), l.typeString(last.Type().(*types.Slice).Elem()))
	}
	if results.Len() == 0 || !types.Identical(results.At(results.Len()-1).Type(), errorType) {
		return refuse("last result must be error, so that callers see failed calls; got %s", l.tupleString(results))
	}
	if !m.OneWay && params.Len() == 2 && results.Len() == 2 && l.isMessage(params.At(1).Type()) && l.isMessage(results.At(0).Type()) {
		// Shaped like a protobuf RPC: the message itself is the body, as
		// protoc-gen-mqrpc sends it, so this method and its .proto twin
		// call each other.
		req, resp := params.At(1), results.At(0)
		m.Body = model.Message
		m.Params = []model.Param{{Name: cleanName(req.Name()), Type: l.toModel(req.Type())}}
		m.Results = []model.Param{{Name: cleanName(resp.Name()), Type: l.toModel(resp.Type())}}
		return m, nil
	}
	for i := 1; i < params.Len(); i++ {
		p := params.At(i)
		if reason := l.check(p.Type()); reason != "" {
			return refuse("parameter %d %s%s", i+1, paramName(p), l.withTypeError(reason, m.Pos))
		}
		m.Params = append(m.Params, model.Param{Name: cleanName(p.Name()), Type: l.toModel(p.Type())})
	}
	for i := 0; i < results.Len()-1; i++ {
		r := results.At(i)
		if reason := l.check(r.Type()); reason != "" {
			return refuse("result %d %s%s", i+1, paramName(r), l.withTypeError(reason, m.Pos))
		}
		m.Results = append(m.Results, model.Param{Name: cleanName(r.Name()), Type: l.toModel(r.Type())})
	}
	if m.OneWay && len(m.Results) > 0 {
		return refuse("is marked mqrpc:oneway but returns %s; a one-way call gets no reply, so it may return only error", l.tupleString(results))
	}
	return m, nil
}

// protoreflectPath is the package of protoreflect.Message, which every
// generated protobuf message returns from its ProtoReflect method.
const protoreflectPath = "google.golang.org/protobuf/reflect/protoreflect"

// isMessage reports whether t is *M for a protobuf message type M that
// generated code can name: *M has the method ProtoReflect()
// protoreflect.Message, which protoc-gen-go writes for every message.
func (l *loader) isMessage(t types.Type) bool {
	// An alias of the pointer type stays positional: the emitter needs
	// the pointer spelled out to name the message.
	ptr, ok := t.(*types.Pointer)
	if !ok {
		return false
	}
	named, ok := types.Unalias(ptr.Elem()).(*types.Named)
	if !ok || named.Obj().Pkg() == nil {
		return false
	}
	if named.Obj().Pkg() != l.pkg.Types && !named.Obj().Exported() {
		return false
	}
	sel := types.NewMethodSet(ptr).Lookup(nil, "ProtoReflect")
	if sel == nil {
		return false
	}
	sig := sel.Obj().(*types.Func).Signature()
	if sig.Params().Len() != 0 || sig.Results().Len() != 1 {
		return false
	}
	res, ok := types.Unalias(sig.Results().At(0).Type()).(*types.Named)
	return ok && res.Obj().Pkg() != nil && res.Obj().Pkg().Path() == protoreflectPath && res.Obj().Name() == "Message"
}

// withTypeError adds the compiler's message to a reason that is about a
// type error on the method's line, so the user sees what to fix.
func (l *loader) withTypeError(reason string, at model.Pos) string {
	if !strings.Contains(reason, "does not type-check") {
		return reason
	}
	prefix := fmt.Sprintf("%s:%d:", at.Filename, at.Line)
	for _, e := range l.pkg.Errors {
		if strings.HasPrefix(e.Pos, prefix) {
			return reason + ": " + e.Msg
		}
	}
	return reason
}

func paramName(v *types.Var) string {
	if v.Name() == "" || v.Name() == "_" {
		return ""
	}
	return "(" + v.Name() + ") "
}

func cleanName(name string) string {
	if name == "_" {
		return ""
	}
	return name
}

var errorType = types.Universe.Lookup("error").Type()

func isContext(t types.Type) bool {
	n, ok := types.Unalias(t).(*types.Named)
	return ok && n.Obj().Pkg() != nil && n.Obj().Pkg().Path() == "context" && n.Obj().Name() == "Context"
}

// qualifier writes types of this package unqualified and others by package
// name, as the user reads them in their source.
func (l *loader) qualifier(p *types.Package) string {
	if p == l.pkg.Types {
		return ""
	}
	return p.Name()
}

func (l *loader) typeString(t types.Type) string { return types.TypeString(t, l.qualifier) }

func (l *loader) tupleString(t *types.Tuple) string {
	if t.Len() == 0 {
		return "nothing"
	}
	parts := make([]string, t.Len())
	for i := range parts {
		parts[i] = l.typeString(t.At(i).Type())
	}
	if len(parts) == 1 {
		return parts[0]
	}
	return "(" + strings.Join(parts, ", ") + ")"
}
