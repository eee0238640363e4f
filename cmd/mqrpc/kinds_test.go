package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/mqrpc/mqrpc/runtime"
	"github.com/mqrpc/mqrpc/runtime/rocketmq/rocketmqtest"
	"github.com/mqrpc/mqrpc/testdata/golden/kinds"
)

// call decodes the results of every kind of method mqrpcgen accepts, maps
// with integer and struct keys among them, as a generated client would.
func TestCallDecodesEveryKindOfResult(t *testing.T) {
	ns := rocketmqtest.NameServer(t)
	topic := serveOn(t, ns, kinds.KindsServiceName, func(s *runtime.Server) error { return kinds.RegisterKinds(s, kinds.Echo{}) })
	for _, c := range []struct {
		method, args, want string
	}{
		{"Basics", `[true,-1,2,3,4,5,6,7,8,9,10,1.5,2.5,"s",65,66]`, `[true,-1,2,3,4,5,6,7,8,9,10,1.5,2.5,"s",65,66]`},
		{"Struct", `[{"Name":"n","Tags":["a"],"Attrs":{"k":"v"},"Origin":{"X":1,"Y":2},"Next":{"Name":"m"}}]`,
			`[{"Attrs":{"k":"v"},"Name":"n","Next":{"Attrs":null,"Name":"m","Next":null,"Origin":{"X":0,"Y":0},"Tags":null},"Origin":{"X":1,"Y":2},"Tags":["a"]}]`},
		{"Anonymous", `[{"name":"x","Count":2}]`, `[{"Count":2,"name":"x"}]`},
		{"Pointers", `[null,5]`, `[null,5]`},
		{"Slices", `[["a"],[],[[1],[2,3]]]`, `[["a"],[],[[1],[2,3]]]`},
		{"Array", `[[1,2,3]]`, `[[1,2,3]]`},
		{"Maps", `[{"a":1},{"1":["x"],"-2":[]},{}]`, `[{"a":1},{"-2":[],"1":["x"]},{}]`},
		{"Time", `["2026-01-02T03:04:05Z","1m30s"]`, `"1m30s"`},
		{"Bytes", `["aGVsbG8="]`, `["aGVsbG8="]`},
		{"Named", `[{"X":1,"Y":2},"t",{"Key":"k","Value":3},36.6]`, `[{"X":1,"Y":2},"t",{"Key":"k","Value":3},36.6]`},
		{"Nothing", `[]`, `[]`},
		{"Split", `["abc"]`, `["a",["bc"],3]`},
	} {
		t.Run(c.method, func(t *testing.T) {
			code, out, errOut := mqrpc(t, "call", "-namesrv", ns, "-topic", topic, kinds.KindsServiceName+"/"+c.method, c.args)
			if code != exitOK {
				t.Fatalf("exit %d, stdout %q, stderr %s", code, out, errOut)
			}
			// Long results are indented: compare them on one line.
			var line bytes.Buffer
			if err := json.Compact(&line, []byte(out)); err != nil {
				t.Fatalf("stdout is not JSON: %v\n%s", err, out)
			}
			if !strings.Contains(line.String(), c.want) {
				t.Errorf("stdout %q does not show %s", out, c.want)
			}
		})
	}
}
