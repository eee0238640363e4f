package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// twoServices is a package with two interfaces for one mqrpcgen line.
func twoServices() map[string]string {
	return svc(ctxImport, `type S interface {
	Add(ctx context.Context, a, b int) (int, error)
}

type T interface {
	Sub(ctx context.Context, a, b int) (int, error)
}
`)
}

// runOK runs mqrpcgen in dir, which must succeed, and returns its stderr.
func runOK(t *testing.T, dir string, args ...string) string {
	t.Helper()
	var stderr bytes.Buffer
	if code := run(args, dir, &stderr); code != 0 {
		t.Fatalf("mqrpcgen %v: exit status %d: %s", args, code, stderr.String())
	}
	return stderr.String()
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Switching a package from one file per type to -output, and back, gives
// the output a fresh package would get: the files of the earlier layout
// declare the same names, but they are mqrpcgen's earlier output for the
// same types, not the user's declarations. They are left for the user to
// delete, with a warning that says so.
func TestSwitchingBetweenOutputLayouts(t *testing.T) {
	perType := []string{"-type", "S,T"}
	oneFile := []string{"-type", "S,T", "-output", "all_mqrpc.go"}

	// What a package that never had generated code gets.
	fresh := writePackage(t, twoServices())
	runOK(t, fresh, oneFile...)
	freshAll := readFile(t, filepath.Join(fresh, "all_mqrpc.go"))

	dir := writePackage(t, twoServices())
	if warn := runOK(t, dir, perType...); warn != "" {
		t.Fatalf("first run warned: %s", warn)
	}
	firstS := readFile(t, filepath.Join(dir, "s_mqrpc.go"))
	firstT := readFile(t, filepath.Join(dir, "t_mqrpc.go"))

	// Per type -> -output.
	warn := runOK(t, dir, oneFile...)
	if want := "mqrpcgen: s_mqrpc.go holds earlier generated code for S, now in all_mqrpc.go; delete s_mqrpc.go\n" +
		"mqrpcgen: t_mqrpc.go holds earlier generated code for T, now in all_mqrpc.go; delete t_mqrpc.go\n"; warn != want {
		t.Errorf("stderr:\n%s\nwant:\n%s", warn, want)
	}
	if got := readFile(t, filepath.Join(dir, "all_mqrpc.go")); !bytes.Equal(got, freshAll) {
		t.Errorf("all_mqrpc.go differs from a fresh package's:\n%s", firstDiff(freshAll, got))
	}
	if !bytes.Equal(readFile(t, filepath.Join(dir, "s_mqrpc.go")), firstS) || !bytes.Equal(readFile(t, filepath.Join(dir, "t_mqrpc.go")), firstT) {
		t.Error("the earlier files were changed")
	}

	// -output -> per type, once the user has deleted the per-type files.
	for _, name := range []string{"s_mqrpc.go", "t_mqrpc.go"} {
		if err := os.Remove(filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	warn = runOK(t, dir, perType...)
	if want := "mqrpcgen: all_mqrpc.go holds earlier generated code for S, T, now in s_mqrpc.go, t_mqrpc.go; delete all_mqrpc.go\n"; warn != want {
		t.Errorf("stderr:\n%s\nwant:\n%s", warn, want)
	}
	if got := readFile(t, filepath.Join(dir, "s_mqrpc.go")); !bytes.Equal(got, firstS) {
		t.Errorf("s_mqrpc.go differs from the first run's:\n%s", firstDiff(firstS, got))
	}
	if got := readFile(t, filepath.Join(dir, "t_mqrpc.go")); !bytes.Equal(got, firstT) {
		t.Errorf("t_mqrpc.go differs from the first run's:\n%s", firstDiff(firstT, got))
	}
}

// A file mqrpcgen wrote for another type is not replaced by this run, so
// what it declares stays taken: service AFoo's method X and service A's
// method FooX both want the argument struct aFooXArgs.
func TestOtherTypesOutputStaysTaken(t *testing.T) {
	dir := writePackage(t, svc(ctxImport, `type A interface {
	FooX(ctx context.Context) error
}

type AFoo interface {
	X(ctx context.Context) error
}
`))
	if warn := runOK(t, dir, "-type", "AFoo"); warn != "" {
		t.Fatalf("warned: %s", warn)
	}
	if src := readFile(t, filepath.Join(dir, "a_foo_mqrpc.go")); !bytes.Contains(src, []byte("\ntype aFooXArgs struct")) {
		t.Fatalf("a_foo_mqrpc.go does not declare aFooXArgs:\n%s", src)
	}
	if warn := runOK(t, dir, "-type", "A"); warn != "" {
		t.Fatalf("warned: %s", warn)
	}
	if src := readFile(t, filepath.Join(dir, "a_mqrpc.go")); !bytes.Contains(src, []byte("\ntype aFooXArgs1 struct")) {
		t.Errorf("a_mqrpc.go does not move its argument struct aside to aFooXArgs1:\n%s", src)
	}
}
