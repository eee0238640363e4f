package gen

import (
	"fmt"

	"github.com/dave/jennifer/jen"

	"github.com/mqrpc/mqrpc/internal/model"
)

// generateFanoutClient declares the service's fan-out client: one method
// per method that has a reply, returning the reply of every server
// instance (runtime.Fanout). A slice reads best at the call site: callers
// want every instance's answer, a partial result is normal, and the one
// error left is "no reply at all", which an iterator could only report
// after the loop.
func generateFanoutClient(f *jen.File, n *names) {
	doc := fmt.Sprintf("%s makes fan-out calls to the %s service: every server\ninstance started with runtime.WithFanoutCalls runs each call, and each\nmethod returns the reply of every instance that answered (see\nruntime.Fanout).", n.fanout, n.svc.Name)
	for _, mn := range n.methods {
		if mn.m.OneWay {
			doc += " One-way methods have no fan-out form: no reply would come."
			break
		}
	}
	f.Comment(docComment(doc))
	f.Type().Id(n.fanout).Struct(
		jen.Id("client").Op("*").Qual(runtimePath, "Client"),
		jen.Id("opts").Index().Qual(runtimePath, "CallOption"),
	)
	f.Comment(docComment(fmt.Sprintf("%s returns a client whose methods make fan-out calls\nto the %s service through c, with opts applied to every call.", n.newFanout, n.svc.Name)))
	f.Func().Id(n.newFanout).Params(
		jen.Id("c").Op("*").Qual(runtimePath, "Client"),
		jen.Id("opts").Op("...").Qual(runtimePath, "CallOption"),
	).Op("*").Id(n.fanout).Block(
		jen.Return(jen.Op("&").Id(n.fanout).Values(jen.Id("client").Op(":").Id("c"), jen.Id("opts").Op(":").Id("opts"))),
	)
	for _, mn := range n.methods {
		if !mn.m.OneWay {
			generateFanoutMethod(f, n, mn)
		}
	}
}

// generateFanoutMethod declares one method of the fan-out client. Its
// replies carry the method's result: nothing (struct{}) for a method with
// none, the result for a method with one, the generated results struct
// (fields R0, R1, ...) for a method with several, the response message
// for a .proto method.
func generateFanoutMethod(f *jen.File, n *names, mn *methodNames) {
	m := mn.m
	f.Comment(docComment(fmt.Sprintf("%s calls %s on every server instance of %s.", m.Name, m.Name, n.svc.Name)))
	var in, args, res, val, ret jen.Code
	out := jen.Id("out")
	switch {
	case m.Body == model.Message:
		args = jen.Id(mn.params[0])
		res = typeCode(m.Results[0].Type.Elem)
		val = typeCode(m.Results[0].Type)
		ret = out
	default:
		var fields []jen.Code
		for i := range m.Params {
			fields = append(fields, jen.Id(mn.fields[i]).Op(":").Id(mn.params[i]))
		}
		in = jen.Id("in").Op(":=").Id(mn.args).Values(fields...)
		args = jen.Op("&").Id("in")
		switch len(m.Results) {
		case 0:
			res, val, ret = jen.Struct(), jen.Struct(), jen.Struct().Values()
			out = jen.Id("_")
		case 1:
			res, val, ret = jen.Id(mn.results), typeCode(m.Results[0].Type), jen.Id("out").Dot(resultField(0))
		default:
			res, val, ret = jen.Id(mn.results), jen.Id(mn.results), jen.Op("*").Id("out")
		}
	}
	value := jen.Func().Params(jen.Add(out).Op("*").Add(res)).Add(val).Block(jen.Return(ret))
	var body []jen.Code
	if in != nil {
		body = append(body, in)
	}
	body = append(body, jen.Return(jen.Qual(runtimePath, "Fanout").Call(
		jen.Id("ctx"), jen.Id("c").Dot("client"), jen.Id(mn.fullName), args, value, jen.Id("c").Dot("opts").Op("..."),
	)))
	f.Func().Params(jen.Id("c").Op("*").Id(n.fanout)).Id(m.Name).Params(signature(m, mn.params)...).
		Params(jen.Index().Qual(runtimePath, "Reply").Types(val), jen.Error()).Block(body...)
}
