package gofront

import (
	"go/ast"
	"go/parser"
	"go/token"
	"go/types"
	"strings"

	"golang.org/x/tools/go/packages"

	"github.com/mqrpc/mqrpc/internal/model"
)

// Doc comment lines that direct the generator (see model). Written
// "//mqrpc:oneway", go/ast treats them as directives and leaves them out
// of the doc text that is carried over into generated code.
const (
	oneWayDirective     = model.OneWayDirective
	idempotentDirective = model.IdempotentDirective
)

// methodDirectives are the directives found in a method's doc comment.
type methodDirectives struct {
	oneWay, idempotent bool
}

// docIndex finds the doc comments of types and interface methods. Methods
// of embedded interfaces from other packages are declared in files that
// go/packages did not parse (their types come from export data), so those
// files are parsed on demand.
type docIndex struct {
	fset  *token.FileSet // the package's
	files map[string]syntaxFile
}

type syntaxFile struct {
	file *ast.File // nil when the file could not be parsed
	fset *token.FileSet
}

func newDocIndex(pkg *packages.Package) *docIndex {
	d := &docIndex{fset: pkg.Fset, files: map[string]syntaxFile{}}
	for _, f := range pkg.Syntax {
		d.files[pkg.Fset.Position(f.Package).Filename] = syntaxFile{f, pkg.Fset}
	}
	return d
}

// file returns the syntax of the file holding pos and the file set its
// positions belong to.
func (d *docIndex) file(pos token.Position) (*ast.File, *token.FileSet) {
	sf, ok := d.files[pos.Filename]
	if !ok {
		sf.fset = token.NewFileSet()
		sf.file, _ = parser.ParseFile(sf.fset, pos.Filename, nil, parser.ParseComments|parser.SkipObjectResolution)
		d.files[pos.Filename] = sf
	}
	return sf.file, sf.fset
}

// typeDoc returns the doc comment of the type declared at p.
func (d *docIndex) typeDoc(p token.Pos) string {
	pos := d.fset.Position(p)
	f, fset := d.file(pos)
	if f == nil {
		return ""
	}
	for _, decl := range f.Decls {
		gd, ok := decl.(*ast.GenDecl)
		if !ok || gd.Tok != token.TYPE {
			continue
		}
		for _, spec := range gd.Specs {
			ts := spec.(*ast.TypeSpec)
			if !samePlace(fset.Position(ts.Name.Pos()), pos) {
				continue
			}
			doc := ts.Doc
			if doc == nil && !gd.Lparen.IsValid() {
				doc = gd.Doc
			}
			return doc.Text()
		}
	}
	return ""
}

// methodDoc returns the doc comment of the interface method fn and the
// directives it carries.
func (d *docIndex) methodDoc(fn *types.Func) (string, methodDirectives) {
	pos := d.fset.Position(fn.Pos())
	f, fset := d.file(pos)
	if f == nil {
		return "", methodDirectives{}
	}
	var doc *ast.CommentGroup
	ast.Inspect(f, func(n ast.Node) bool {
		field, ok := n.(*ast.Field)
		if !ok || doc != nil {
			return doc == nil
		}
		// Positions from export data have no real column: match the
		// method by name and line.
		for _, name := range field.Names {
			if name.Name == fn.Name() && fset.Position(name.Pos()).Line == pos.Line {
				doc = field.Doc
			}
		}
		return true
	})
	return doc.Text(), methodDirectives{oneWay: hasDirective(doc, oneWayDirective), idempotent: hasDirective(doc, idempotentDirective)}
}

func samePlace(a, b token.Position) bool { return a.Line == b.Line && a.Column == b.Column }

// hasDirective reports whether a line of the comment is exactly the
// directive, written as "//mqrpc:oneway" or "// mqrpc:oneway".
func hasDirective(cg *ast.CommentGroup, directive string) bool {
	if cg == nil {
		return false
	}
	for _, c := range cg.List {
		text := c.Text
		if rest, ok := strings.CutPrefix(text, "//"); ok {
			text = rest
		} else {
			text = strings.TrimSuffix(strings.TrimPrefix(text, "/*"), "*/")
		}
		for line := range strings.SplitSeq(text, "\n") {
			if strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "*")) == directive {
				return true
			}
		}
	}
	return false
}
