package main

import (
	"github.com/mqrpc/mqrpc/internal/gen"

	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mqrpc/mqrpc/internal/testenv"
)

// TestProtoc needs protoc on PATH (Debian: protobuf-compiler); under
// CI=true it fails without one. It runs the real protoc with protoc-gen-go
// and protoc-gen-mqrpc built from this module over the golden files and
// the example, and compares every file written with the checked-in one:
// the in-process tests see what protoc sends.
func TestProtoc(t *testing.T) {
	protoc, err := exec.LookPath("protoc")
	if err != nil {
		testenv.Missing(t, "protoc is not installed (apt-get install protobuf-compiler): %v", err)
	}
	bin := t.TempDir()
	for name, pkg := range map[string]string{
		"protoc-gen-go":    "google.golang.org/protobuf/cmd/protoc-gen-go",
		"protoc-gen-mqrpc": ".",
	} {
		if out, err := exec.Command("go", "build", "-o", filepath.Join(bin, name), pkg).CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", pkg, err, out)
		}
	}
	protocRun := func(t *testing.T, dir string, args ...string) (string, error) {
		t.Helper()
		cmd := exec.Command(protoc, append([]string{
			"--plugin=protoc-gen-go=" + filepath.Join(bin, "protoc-gen-go"),
			"--plugin=protoc-gen-mqrpc=" + filepath.Join(bin, "protoc-gen-mqrpc"),
		}, args...)...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		return string(out), err
	}

	t.Run("version", func(t *testing.T) {
		out, err := exec.Command(filepath.Join(bin, "protoc-gen-mqrpc"), "--version").Output()
		if err != nil || string(out) != "protoc-gen-mqrpc "+gen.Version+"\n" {
			t.Errorf("--version: %q, %v", out, err)
		}
	})

	for _, tt := range []struct {
		name, dir string
		files     []string
	}{
		{"golden", goldenDir, []string{"shared/shared.proto", "multi/a.proto", "multi/b.proto", "legacy/legacy.proto", "kitchen/kitchen.proto"}},
		{"example with comments", "../../examples/calcpb", []string{"calcv1/calc.proto"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			out := t.TempDir()
			args := append([]string{"--go_out=" + out, "--go_opt=paths=source_relative", "--mqrpc_out=" + out, "--mqrpc_opt=paths=source_relative"}, tt.files...)
			if msg, err := protocRun(t, tt.dir, args...); err != nil {
				t.Fatalf("protoc: %v\n%s", err, msg)
			}
			n := 0
			err := filepath.WalkDir(out, func(path string, d os.DirEntry, err error) error {
				if err != nil || d.IsDir() {
					return err
				}
				n++
				rel, _ := filepath.Rel(out, path)
				got, err := os.ReadFile(path)
				if err != nil {
					return err
				}
				want, err := os.ReadFile(filepath.Join(tt.dir, rel))
				if err != nil {
					t.Errorf("protoc wrote %s, which is not checked in: %v", rel, err)
					return nil
				}
				if !bytes.Equal(got, want) {
					t.Errorf("%s differs from what protoc writes now; run make generate", rel)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if n == 0 {
				t.Fatal("protoc wrote nothing")
			}
		})
	}

	t.Run("streaming refused", func(t *testing.T) {
		dir := t.TempDir()
		src := "syntax = \"proto3\";\npackage s;\noption go_package = \"example.com/s;spb\";\nmessage M {}\nservice Feed {\n  rpc Get(M) returns (M);\n  rpc Watch(M) returns (stream M);\n}\n"
		if err := os.WriteFile(filepath.Join(dir, "stream.proto"), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		msg, err := protocRun(t, dir, "--mqrpc_out="+dir, "stream.proto")
		if err == nil {
			t.Fatal("protoc succeeded")
		}
		if want := "stream.proto:7: service s.Feed: method Watch: server streaming is not supported"; !strings.Contains(msg, want) {
			t.Errorf("protoc said %q, want it to contain %q", msg, want)
		}
		if _, err := os.Stat(filepath.Join(dir, "stream.mqrpc.go")); err == nil {
			t.Error("a file was written")
		}
	})
}
