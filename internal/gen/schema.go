package gen

import (
	"strconv"
	"strings"

	"github.com/dave/jennifer/jen"

	"github.com/mqrpc/mqrpc/internal/model"
)

// schemaFields writes the Params, Results and Body fields of a MethodDesc:
// the compact schema a server answers mqrpc.Describe with, so that a caller
// without generated code (the mqrpc command) can build requests.
func schemaFields(m *model.Method) []jen.Code {
	var out []jen.Code
	if m.Body == model.Message {
		out = append(out, jen.Id("Body").Op(":").Qual(runtimePath, "BodyMessage"))
	}
	if len(m.Params) > 0 {
		out = append(out, jen.Id("Params").Op(":").Add(fieldList(m.Params)))
	}
	if len(m.Results) > 0 {
		out = append(out, jen.Id("Results").Op(":").Add(fieldList(m.Results)))
	}
	return out
}

func fieldList(ps []model.Param) *jen.Statement {
	elems := make([]jen.Code, len(ps))
	for i, p := range ps {
		var kv []jen.Code
		if p.Name != "" && p.Name != "_" {
			kv = append(kv, jen.Id("Name").Op(":").Lit(p.Name))
		}
		kv = append(kv, jen.Id("Type").Op(":").Lit(typeString(p.Type)))
		elems[i] = jen.Values(kv...)
	}
	return jen.Index().Qual(runtimePath, "Field").Values(elems...)
}

// typeString writes a type as Go source in its declaring package would,
// with every declared type qualified by its package name
// ("calculator.Series", "[]time.Time"), for people and the mqrpc command.
func typeString(t *model.Type) string {
	var b strings.Builder
	writeType(&b, t)
	return b.String()
}

func writeType(b *strings.Builder, t *model.Type) {
	switch t.Kind {
	case model.Basic:
		b.WriteString(t.Name)
	case model.Named:
		if t.PkgName != "" {
			b.WriteString(t.PkgName + ".")
		}
		b.WriteString(t.Name)
		if len(t.TypeArgs) > 0 {
			b.WriteByte('[')
			for i, a := range t.TypeArgs {
				if i > 0 {
					b.WriteString(", ")
				}
				writeType(b, a)
			}
			b.WriteByte(']')
		}
	case model.Pointer:
		b.WriteByte('*')
		writeType(b, t.Elem)
	case model.Slice:
		b.WriteString("[]")
		writeType(b, t.Elem)
	case model.Array:
		b.WriteString("[" + strconv.FormatInt(t.Len, 10) + "]")
		writeType(b, t.Elem)
	case model.Map:
		b.WriteString("map[")
		writeType(b, t.Key)
		b.WriteByte(']')
		writeType(b, t.Elem)
	case model.Struct:
		b.WriteString("struct{")
		for i, f := range t.Fields {
			if i > 0 {
				b.WriteString("; ")
			}
			if f.Name != "" {
				b.WriteString(f.Name + " ")
			}
			writeType(b, f.Type)
			if f.Tag != "" {
				b.WriteString(" " + rawTag(f.Tag))
			}
		}
		b.WriteByte('}')
	}
}
