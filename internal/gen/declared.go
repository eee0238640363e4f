package gen

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"

	"github.com/mqrpc/mqrpc/internal/model"
)

// Declared lists the package-scope identifiers that src, generated Go
// source, declares. A front end that writes several files into one
// package adds them to the next file's Taken, so that no two generated
// files declare the same name.
func Declared(filename string, src []byte) ([]model.Ident, error) {
	fset := token.NewFileSet()
	file, err := parser.ParseFile(fset, filename, src, parser.SkipObjectResolution)
	if err != nil {
		return nil, fmt.Errorf("parse generated %s: %w", filename, err)
	}
	var ids []model.Ident
	add := func(id *ast.Ident) {
		if id.Name == "_" {
			return
		}
		p := fset.Position(id.Pos())
		ids = append(ids, model.Ident{Name: id.Name, Pos: model.Pos{Filename: p.Filename, Line: p.Line, Column: p.Column}})
	}
	for _, decl := range file.Decls {
		switch d := decl.(type) {
		case *ast.FuncDecl:
			if d.Recv == nil {
				add(d.Name)
			}
		case *ast.GenDecl:
			for _, spec := range d.Specs {
				switch s := spec.(type) {
				case *ast.TypeSpec:
					add(s.Name)
				case *ast.ValueSpec:
					for _, n := range s.Names {
						add(n)
					}
				}
			}
		}
	}
	return ids, nil
}
