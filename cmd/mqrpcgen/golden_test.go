package main

import (
	"bufio"
	"bytes"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files with the generator's output")

// goGenerate is how every golden package runs the generator.
const goGenerate = "//go:generate go run github.com/mqrpc/mqrpc/cmd/mqrpcgen "

// TestGoldenFilesAreCurrent regenerates every package that runs mqrpcgen
// with go:generate, in process with the same arguments, and compares the
// output byte for byte with what is checked in. Those packages' own tests
// call through the checked-in output, so a passing run here means the
// generator's output compiles and works.
func TestGoldenFilesAreCurrent(t *testing.T) {
	dirs := goldenDirs(t)
	if len(dirs) < 4 {
		t.Fatalf("found %d golden packages, want at least 4: %v", len(dirs), dirs)
	}
	for dir, lines := range dirs {
		for _, args := range lines {
			t.Run(filepath.ToSlash(dir)+" "+strings.Join(args, " "), func(t *testing.T) {
				o, err := parseArgs(args, io.Discard)
				if err != nil {
					t.Fatalf("parse %v: %v", args, err)
				}
				files, warnings, err := generate(o, dir)
				if err != nil || len(warnings) > 0 {
					t.Fatalf("generate: %v %q", err, warnings)
				}
				for _, f := range files {
					if *update {
						if err := os.WriteFile(f.path, f.src, 0o644); err != nil {
							t.Fatal(err)
						}
						continue
					}
					want, err := os.ReadFile(f.path)
					if err != nil {
						t.Fatalf("%v (run go test ./cmd/mqrpcgen -update)", err)
					}
					if !bytes.Equal(f.src, want) {
						t.Errorf("%s is stale; run go test ./cmd/mqrpcgen -update\n%s", f.path, firstDiff(want, f.src))
					}
				}
			})
		}
	}
}

// TestOutputIsDeterministic generates a package many times over.
func TestOutputIsDeterministic(t *testing.T) {
	dir, err := filepath.Abs("../../testdata/golden/kinds")
	if err != nil {
		t.Fatal(err)
	}
	o, _ := parseArgs([]string{"-type", "Kinds"}, io.Discard)
	first, _, err := generate(o, dir)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		again, _, err := generate(o, dir)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(first[0].src, again[0].src) {
			t.Fatalf("two runs differ:\n%s", firstDiff(first[0].src, again[0].src))
		}
	}
}

// goldenDirs finds the go:generate lines that run mqrpcgen, by directory.
func goldenDirs(t *testing.T) map[string][][]string {
	t.Helper()
	found := map[string][][]string{}
	for _, root := range []string{"../../testdata/golden", "../../examples"} {
		err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return err
			}
			f, err := os.Open(path)
			if err != nil {
				return err
			}
			defer f.Close()
			sc := bufio.NewScanner(f)
			for sc.Scan() {
				if rest, ok := strings.CutPrefix(sc.Text(), goGenerate); ok {
					dir, err := filepath.Abs(filepath.Dir(path))
					if err != nil {
						return err
					}
					found[dir] = append(found[dir], strings.Fields(rest))
				}
			}
			return sc.Err()
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return found
}

// firstDiff shows the first line where got differs from want.
func firstDiff(want, got []byte) string {
	w, g := strings.Split(string(want), "\n"), strings.Split(string(got), "\n")
	for i := range max(len(w), len(g)) {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			return "line " + strconv.Itoa(i+1) + ":\n  checked in: " + wl + "\n  generated:  " + gl
		}
	}
	return "(no line differs)"
}
