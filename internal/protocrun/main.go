// Command protocrun runs protoc with protoc-gen-go and protoc-gen-mqrpc
// built from this module, so that generated code depends only on the
// protoc on PATH and on go.mod. go:generate lines use it:
//
//	//go:generate go run github.com/mqrpc/mqrpc/internal/protocrun --go_out=. --go_opt=paths=source_relative --mqrpc_out=. --mqrpc_opt=paths=source_relative calc.proto
//
// Its arguments go to protoc unchanged, after the two --plugin flags.
package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "protocrun:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	protoc, err := exec.LookPath("protoc")
	if err != nil {
		return fmt.Errorf("%w: install protoc (Debian: apt-get install protobuf-compiler)", err)
	}
	dir, err := os.MkdirTemp("", "protocrun")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	plugins := map[string]string{
		"protoc-gen-go":    "google.golang.org/protobuf/cmd/protoc-gen-go",
		"protoc-gen-mqrpc": "github.com/mqrpc/mqrpc/cmd/protoc-gen-mqrpc",
	}
	var flags []string
	for _, name := range []string{"protoc-gen-go", "protoc-gen-mqrpc"} {
		bin := filepath.Join(dir, name)
		build := exec.Command("go", "build", "-o", bin, plugins[name])
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			return fmt.Errorf("build %s: %w", name, err)
		}
		flags = append(flags, "--plugin="+name+"="+bin)
	}
	cmd := exec.Command(protoc, append(flags, args...)...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("protoc: %w", err)
	}
	return nil
}
