package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writePackage writes a module with the given files into a new directory
// and returns it.
func writePackage(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	files["go.mod"] = "module example.com/svc\n\ngo 1.26\n"
	for name, src := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// svc is a one-file package around decls.
func svc(imports, decls string) map[string]string {
	return map[string]string{"svc.go": "package svc\n\nimport (\n" + imports + ")\n\n" + decls}
}

const ctxImport = "\t\"context\"\n"

func TestRefusedInterfaces(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files map[string]string
		args  []string
		want  string // stderr
	}{{
		name: "no context",
		files: svc(ctxImport, `type S interface {
	Add(a, b int) (int, error)
}
`),
		want: "svc.go:8: method Add: first parameter must be context.Context, got int\n",
	}, {
		name: "no parameters",
		files: svc(ctxImport, `var _ context.Context
type S interface {
	Ping() error
}
`),
		want: "svc.go:9: method Ping: has no parameters; the first must be context.Context\n",
	}, {
		name: "no trailing error",
		files: svc(ctxImport, `type S interface {
	Add(ctx context.Context, a, b int) int
}
`),
		want: "svc.go:8: method Add: last result must be error, so that callers see failed calls; got int\n",
	}, {
		name: "error not last",
		files: svc(ctxImport, `type S interface {
	Add(ctx context.Context, a, b int) (error, int)
}
`),
		want: "svc.go:8: method Add: last result must be error, so that callers see failed calls; got (error, int)\n",
	}, {
		name: "no results",
		files: svc(ctxImport, `type S interface {
	Do(ctx context.Context)
}
`),
		want: "svc.go:8: method Do: last result must be error, so that callers see failed calls; got nothing\n",
	}, {
		name: "channel parameter",
		files: svc(ctxImport, `type S interface {
	Watch(ctx context.Context, ch chan int) error
}
`),
		want: "svc.go:8: method Watch: parameter 2 (ch) is a channel (chan int); mqrpc can only send values that msgpack encodes\n",
	}, {
		name: "channel result",
		files: svc(ctxImport, `type S interface {
	Events(ctx context.Context) (<-chan int, error)
}
`),
		want: "svc.go:8: method Events: result 1 is a channel (<-chan int); mqrpc can only send values that msgpack encodes\n",
	}, {
		name: "func parameter",
		files: svc(ctxImport, `type S interface {
	Each(ctx context.Context, f func(int) bool) error
}
`),
		want: "svc.go:8: method Each: parameter 2 (f) is a func (func(int) bool); mqrpc can only send values that msgpack encodes\n",
	}, {
		name: "unsafe pointer",
		files: svc(ctxImport+"\t\"unsafe\"\n", `type S interface {
	Peek(ctx context.Context, p unsafe.Pointer) error
}
`),
		want: "svc.go:9: method Peek: parameter 2 (p) is an unsafe.Pointer; mqrpc can only send values that msgpack encodes\n",
	}, {
		name: "complex",
		files: svc(ctxImport, `type S interface {
	Root(ctx context.Context, x float64) (complex128, error)
}
`),
		want: "svc.go:8: method Root: result 1 is a complex number (complex128); msgpack has none; send two floats\n",
	}, {
		name: "uintptr",
		files: svc(ctxImport, `type S interface {
	Addr(ctx context.Context, p uintptr) error
}
`),
		want: "svc.go:8: method Addr: parameter 2 (p) is a uintptr; msgpack cannot encode it; use uint64\n",
	}, {
		name: "interface parameter",
		files: svc(ctxImport, `type S interface {
	Put(ctx context.Context, v any) error
}
`),
		want: "svc.go:8: method Put: parameter 2 (v) is an interface (any); mqrpc needs a concrete type to decode into\n",
	}, {
		name: "channel inside a struct",
		files: svc(ctxImport, `type Req struct {
	Name string
	Done chan bool
	skip chan bool // unexported: msgpack ignores it
}

type S interface {
	Do(ctx context.Context, r []*Req) error
}
`),
		want: "svc.go:14: method Do: parameter 2 (r) has a channel (chan bool) in field Req.Done; mqrpc can only send values that msgpack encodes\n",
	}, {
		name: "variadic",
		files: svc(ctxImport, `type S interface {
	Sum(ctx context.Context, xs ...int) (int, error)
}
`),
		want: "svc.go:8: method Sum: parameter 2 (xs) is variadic (...int); take a slice instead\n",
	}, {
		name: "generic interface",
		files: svc(ctxImport, `type S[T any] interface {
	Get(ctx context.Context) (T, error)
}
`),
		want: "svc.go:7: -type S: S is generic; a service needs concrete parameter types\n",
	}, {
		name: "unexported method",
		files: svc(ctxImport, `type S interface {
	Add(ctx context.Context, a, b int) (int, error)
	sub(ctx context.Context, a, b int) (int, error)
}
`),
		want: "svc.go:9: method sub: unexported methods cannot be served or called from another package; export it or leave it out of the service\n",
	}, {
		name: "missing type",
		files: svc(ctxImport, `type Calculator interface {
	Add(ctx context.Context, a, b int) (int, error)
}
`),
		args: []string{"-type", "Calculatr"},
		want: "mqrpcgen: -type Calculatr: no such type in package svc (did you mean Calculator?)\n",
	}, {
		name: "not a type",
		files: svc(ctxImport, `var _ context.Context

func S() {}
`),
		want: "svc.go:9: -type S: S is a func, not a type\n",
	}, {
		name: "struct type",
		files: svc(ctxImport, `var _ context.Context

type S struct{ X int }
`),
		want: "svc.go:9: -type S: S is a struct type, not an interface\n",
	}, {
		name: "unexported interface",
		files: svc(ctxImport, `type s interface {
	Add(ctx context.Context, a, b int) (int, error)
}
`),
		args: []string{"-type", "s"},
		want: "svc.go:7: -type s: s is unexported; export it, as the client and Register function generated for it are exported\n",
	}, {
		name: "one-way with results",
		files: svc(ctxImport, `type S interface {
	// Fire starts something.
	//
	//mqrpc:oneway
	Fire(ctx context.Context) (int, error)
}
`),
		want: "svc.go:11: method Fire: is marked mqrpc:oneway but returns (int, error); a one-way call gets no reply, so it may return only error\n",
	}, {
		name: "type error inside the interface",
		files: svc(ctxImport, `type S interface {
	Do(ctx context.Context, v Undefined) error
}
`),
		want: "svc.go:8: method Do: parameter 2 (v) does not type-check: undefined: Undefined\n",
	}, {
		name: "unexported type from another package",
		files: map[string]string{
			"other/other.go": "package other\n\nimport \"context\"\n\ntype thing struct{ X int }\n\ntype Base interface {\n\tDo(ctx context.Context, v thing) error\n}\n",
			"svc.go":         "package svc\n\nimport \"example.com/svc/other\"\n\ntype S interface {\n\tother.Base\n}\n",
		},
		want: "other/other.go:8: method Do: parameter 2 (v) is a type unexported in package other (other.thing); generated code cannot name it\n",
	}, {
		name: "generated name taken",
		files: svc(ctxImport, `type S interface {
	Add(ctx context.Context, a, b int) (int, error)
}

type SClient struct{}
`),
		want: "svc.go:7: service S: generated name SClient is already declared in package svc (at svc.go:11); rename that declaration\n",
	}, {
		name: "predeclared nil redeclared",
		files: svc(ctxImport, `type S interface {
	Add(ctx context.Context, a, b int) (int, error)
}

var nil = 0
`),
		want: "svc.go:7: service S: generated code uses the predeclared nil, which package svc redeclares at svc.go:11; rename it\n",
	}, {
		name: "predeclared true redeclared beside a one-way method",
		files: svc(ctxImport, `type S interface {
	// Fire starts something.
	//
	//mqrpc:oneway
	Fire(ctx context.Context) error
}

const true = false
`),
		want: "svc.go:7: service S: generated code uses the predeclared true, which package svc redeclares at svc.go:14; rename it\n",
	}, {
		// The method comes from a package where int is the predeclared
		// int; in svc, where the generated code goes, it is not.
		name: "predeclared type redeclared under an embedded interface",
		files: map[string]string{
			"other/other.go": "package other\n\nimport \"context\"\n\ntype Base interface {\n\tDo(ctx context.Context, n int) error\n}\n",
			"svc.go":         "package svc\n\nimport \"example.com/svc/other\"\n\ntype S interface {\n\tother.Base\n}\n\ntype int = string\n",
		},
		want: "svc.go:5: service S: generated code uses the predeclared int, which package svc redeclares at svc.go:9; rename it\n",
	}, {
		name: "every problem at once",
		files: svc(ctxImport, `type S interface {
	A(a int) error
	B(ctx context.Context) int
	C(ctx context.Context, ch chan int) error
}
`),
		want: "svc.go:8: method A: first parameter must be context.Context, got int\n" +
			"svc.go:9: method B: last result must be error, so that callers see failed calls; got int\n" +
			"svc.go:10: method C: parameter 2 (ch) is a channel (chan int); mqrpc can only send values that msgpack encodes\n",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := writePackage(t, tc.files)
			args := tc.args
			if args == nil {
				args = []string{"-type", "S"}
			}
			var stderr bytes.Buffer
			if code := run(args, dir, &stderr); code != 1 {
				t.Errorf("exit status %d, want 1", code)
			}
			if got := stderr.String(); got != tc.want {
				t.Errorf("stderr:\n%s\nwant:\n%s", got, tc.want)
			}
			assertNoGeneratedFiles(t, dir)
		})
	}
}

func assertNoGeneratedFiles(t *testing.T, dir string) {
	t.Helper()
	_ = filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(path, "_mqrpc.go") {
			t.Errorf("%s was written", path)
		}
		return err
	})
}

// A package that does not type-check elsewhere still gets code for an
// interface that does, as moq and stringer allow while code is in flux.
func TestTypeErrorElsewhereDoesNotStopGeneration(t *testing.T) {
	dir := writePackage(t, map[string]string{
		"svc.go": `package svc

import "context"

// S is fine.
type S interface {
	Add(ctx context.Context, a, b int) (int, error)
}
`,
		"broken.go": "package svc\n\nfunc broken() int { return \"not an int\" + undefined }\n",
	})
	var stderr bytes.Buffer
	if code := run([]string{"-type", "S"}, dir, &stderr); code != 0 {
		t.Fatalf("exit status %d: %s", code, stderr.String())
	}
	src, err := os.ReadFile(filepath.Join(dir, "s_mqrpc.go"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(src, []byte("func (c *SClient) Add(ctx context.Context, a int, b int) (int, error)")) {
		t.Errorf("generated file lacks the Add method:\n%s", src)
	}
}

// Regenerating over an older output must not count that output's names
// as taken.
func TestRegenerateOverOwnOutput(t *testing.T) {
	dir := writePackage(t, svc(ctxImport, `type S interface {
	Add(ctx context.Context, a, b int) (int, error)
}
`))
	var stderr bytes.Buffer
	for i := range 2 {
		if code := run([]string{"-type", "S"}, dir, &stderr); code != 0 {
			t.Fatalf("run %d: exit status %d: %s", i, code, stderr.String())
		}
	}
	src, err := os.ReadFile(filepath.Join(dir, "s_mqrpc.go"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(src, []byte("type sAddArgs struct")) || !bytes.Contains(src, []byte("var sServiceDesc =")) {
		t.Errorf("second run renamed its own declarations:\n%s", src)
	}
}

func TestUsage(t *testing.T) {
	var stderr bytes.Buffer
	if code := run([]string{"-h"}, t.TempDir(), &stderr); code != 0 {
		t.Errorf("-h: exit status %d, want 0", code)
	}
	for _, want := range []string{"Usage: mqrpcgen -type T[,T...] [-output FILE] [-tags TAGS] [DIR]", "mqrpc:oneway", "-output file", "-tags tags"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("-h output lacks %q:\n%s", want, stderr.String())
		}
	}
	stderr.Reset()
	if code := run(nil, t.TempDir(), &stderr); code != 2 || stderr.String() != "mqrpcgen: -type is required\nRun mqrpcgen -h for usage.\n" {
		t.Errorf("no -type: exit status %d, stderr %q", code, stderr.String())
	}
}

func TestSnakeCase(t *testing.T) {
	for in, want := range map[string]string{
		"Calculator": "calculator",
		"HTTPServer": "http_server",
		"KVStore2":   "kv_store2",
		"GetURL":     "get_url",
		"A":          "a",
		"userAPI":    "user_api",
	} {
		if got := snakeCase(in); got != want {
			t.Errorf("snakeCase(%q) = %q, want %q", in, got, want)
		}
	}
}
