// Command mqrpcgen generates mqrpc clients and servers for Go interfaces.
// Run it with go generate beside the interface:
//
//	//go:generate go run github.com/mqrpc/mqrpc/cmd/mqrpcgen -type Calculator
//
// See mqrpcgen -h for the rules an interface must follow.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"unicode"

	"github.com/mqrpc/mqrpc/internal/gen"
	"github.com/mqrpc/mqrpc/internal/gofront"
	"github.com/mqrpc/mqrpc/internal/model"
)

const usage = `Usage: mqrpcgen -type T[,T...] [-output FILE] [-tags TAGS] [DIR]

mqrpcgen writes an mqrpc client and server for each Go interface named by
-type in the package in DIR (default "."). For an interface T it writes
t_mqrpc.go (T in snake case) into the package, declaring:

	TServiceName, T_M_FullMethodName   the service and method names on the wire
	TClient, NewTClient(c *runtime.Client, opts ...runtime.CallOption)
	                                   a T whose methods are remote calls
	RegisterT(s *runtime.Server, impl T) error
	                                   serves impl on an mqrpc server

Every method must take a context.Context first and return an error last.
The values in between must be ones msgpack encodes: basic types, structs,
pointers, slices, arrays, maps, time.Time, time.Duration, []byte and named
types of those, from any package. Channels, funcs, interfaces, complex
numbers, unsafe.Pointer and variadic parameters are refused. A method whose
doc comment has the line "mqrpc:oneway" and that returns only error is
one-way: the call returns once the request is queued, and no reply comes.
A method whose doc comment has the line "mqrpc:idempotent" is safe to
repeat: the server's description says so, and mqrpc replay re-sends its
stored calls without being told to.

On a refused interface mqrpcgen writes nothing, prints file:line: reason for
each problem and exits with status 1.

After -output is added or dropped, the files mqrpcgen wrote before for the
same types are left in place: mqrpcgen names them, for you to delete.

Use it with go generate, beside the interface:

	//go:generate go run github.com/mqrpc/mqrpc/cmd/mqrpcgen -type Calculator

Flags:
`

func main() {
	wd, err := os.Getwd()
	if err != nil {
		fmt.Fprintln(os.Stderr, "mqrpcgen:", err)
		os.Exit(1)
	}
	os.Exit(run(os.Args[1:], wd, os.Stderr))
}

// options are the parsed command line.
type options struct {
	args   []string // as given, for the header
	types  []string
	output string
	tags   string
	dir    string
}

// run is mqrpcgen with relative paths resolved against wd; it returns the
// exit status.
func run(args []string, wd string, stderr io.Writer) int {
	o, err := parseArgs(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "mqrpcgen: %v\nRun mqrpcgen -h for usage.\n", err)
		return 2
	}
	files, warnings, err := generate(o, wd)
	if err != nil {
		fmt.Fprint(stderr, formatError(err, wd))
		return 1
	}
	for _, w := range warnings {
		fmt.Fprintln(stderr, "mqrpcgen:", w)
	}
	for _, f := range files {
		if old, err := os.ReadFile(f.path); err == nil && bytes.Equal(old, f.src) {
			continue // keep the file's mtime when nothing changed
		}
		if err := os.WriteFile(f.path, f.src, 0o644); err != nil {
			fmt.Fprintln(stderr, "mqrpcgen:", err)
			return 1
		}
	}
	return 0
}

func parseArgs(args []string, stderr io.Writer) (options, error) {
	o := options{args: args}
	fs := flag.NewFlagSet("mqrpcgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usage)
		fs.PrintDefaults()
	}
	typeList := fs.String("type", "", "comma-separated list of interface `names`; required")
	fs.StringVar(&o.output, "output", "", "write every service into `file` instead of one <type>_mqrpc.go per type")
	fs.StringVar(&o.tags, "tags", "", "comma-separated list of build `tags` to apply when loading the package")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	for t := range strings.SplitSeq(*typeList, ",") {
		if t = strings.TrimSpace(t); t != "" {
			o.types = append(o.types, t)
		}
	}
	if len(o.types) == 0 {
		return o, errors.New("-type is required")
	}
	switch fs.NArg() {
	case 0:
		o.dir = "."
	case 1:
		o.dir = fs.Arg(0)
	default:
		return o, fmt.Errorf("one package directory expected, got %d: %s", fs.NArg(), strings.Join(fs.Args(), " "))
	}
	return o, nil
}

type outFile struct {
	path string // absolute
	src  []byte
}

// generate returns the files o asks for, writing nothing, and warnings
// about earlier outputs that now duplicate them.
func generate(o options, wd string) ([]outFile, []string, error) {
	dir := abs(wd, o.dir)
	var paths []string // one per type, or the single -output file
	if o.output != "" {
		paths = []string{abs(wd, o.output)}
	} else {
		for _, t := range o.types {
			paths = append(paths, filepath.Join(dir, snakeCase(t)+"_mqrpc.go"))
		}
	}
	earlier, err := earlierOutputs(dir, o.types)
	if err != nil {
		return nil, nil, err
	}
	replacing := slices.Clone(paths)
	var warnings []string
	for _, e := range earlier {
		replacing = append(replacing, e.path)
		if !slices.Contains(paths, e.path) {
			warnings = append(warnings, staleWarning(e, o.types, paths, wd))
		}
	}
	f, err := gofront.Load(gofront.Config{Dir: dir, Tags: o.tags, Types: o.types, Replacing: replacing})
	if err != nil {
		return nil, nil, err
	}
	f.Generator = "mqrpcgen " + gen.Version + " (mqrpcgen " + strings.Join(o.args, " ") + ")"
	if o.output != "" {
		src, err := gen.Generate(f)
		if err != nil {
			return nil, nil, err
		}
		return []outFile{{paths[0], src}}, warnings, nil
	}

	var out []outFile
	for i, svc := range f.Services {
		one := *f
		one.Services = []*model.Service{svc}
		src, err := gen.Generate(&one)
		if err != nil {
			return nil, nil, err
		}
		out = append(out, outFile{paths[i], src})
		// The next type's file must not redeclare what this one declares.
		names, err := gen.Declared(paths[i], src)
		if err != nil {
			return nil, nil, err
		}
		f.Taken = append(f.Taken, names...)
	}
	return out, warnings, nil
}

// header matches the first line of every file mqrpcgen writes.
var header = regexp.MustCompile(`^// Code generated by mqrpcgen .* DO NOT EDIT\.$`)

// earlierOutput is a file an earlier mqrpcgen run wrote for some of the
// types being generated now.
type earlierOutput struct {
	path     string
	services []string // of the types being generated now, those it declares
}

// earlierOutputs finds the files in dir that mqrpcgen wrote, by their
// header, for any of types, by the TServiceName constant they declare.
// This run replaces them, wherever it writes (the file names change when
// -output is added or dropped), so their declarations are not taken
// names. A file mqrpcgen wrote only for other types still counts: this
// run's names must not clash with it.
func earlierOutputs(dir string, types []string) ([]earlierOutput, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []earlierOutput
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		path := filepath.Join(dir, name)
		src, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		if first, _, _ := bytes.Cut(src, []byte("\n")); !header.Match(bytes.TrimSuffix(first, []byte("\r"))) {
			continue
		}
		names, err := gen.Declared(path, src)
		if err != nil {
			continue // not parseable: the loader reports it, and it stays taken
		}
		var services []string
		for _, t := range types {
			if slices.ContainsFunc(names, func(id model.Ident) bool { return id.Name == t+"ServiceName" }) {
				services = append(services, t)
			}
		}
		if len(services) > 0 {
			out = append(out, earlierOutput{path, services})
		}
	}
	return out, nil
}

// staleWarning tells the user to delete an earlier output that this run
// does not overwrite: it declares what the new files declare, so the
// package does not compile with both. mqrpcgen leaves it in place, as it
// writes only the files it is asked for.
func staleWarning(e earlierOutput, types, paths []string, wd string) string {
	var now []string
	for _, svc := range e.services {
		p := paths[0] // -output
		if len(paths) == len(types) {
			p = paths[slices.Index(types, svc)]
		}
		if p = rel(wd, p); !slices.Contains(now, p) {
			now = append(now, p)
		}
	}
	return fmt.Sprintf("%s holds earlier generated code for %s, now in %s; delete %s", rel(wd, e.path), strings.Join(e.services, ", "), strings.Join(now, ", "), rel(wd, e.path))
}

// rel is path relative to wd, as compilers print file names, when it is
// beneath wd.
func rel(wd, path string) string {
	if r, err := filepath.Rel(wd, path); err == nil && !strings.HasPrefix(r, "..") {
		return r
	}
	return path
}

func abs(wd, p string) string {
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	return filepath.Join(wd, p)
}

// snakeCase turns a Go name into a file name stem: Calculator ->
// calculator, HTTPServer -> http_server, KVStore2 -> kv_store2.
func snakeCase(name string) string {
	r := []rune(name)
	var b strings.Builder
	for i, c := range r {
		if unicode.IsUpper(c) {
			prevLower := i > 0 && (unicode.IsLower(r[i-1]) || unicode.IsDigit(r[i-1]))
			nextLower := i > 0 && i+1 < len(r) && unicode.IsLower(r[i+1]) && unicode.IsUpper(r[i-1])
			if prevLower || nextLower {
				b.WriteByte('_')
			}
			c = unicode.ToLower(c)
		}
		b.WriteRune(c)
	}
	return b.String()
}

// formatError writes err for a person: one line per problem, positions
// relative to wd as compilers print them.
func formatError(err error, wd string) string {
	lines, ok := model.Problems(err, func(p model.Pos) string {
		if p.Filename == "" {
			return "mqrpcgen"
		}
		return fmt.Sprintf("%s:%d", rel(wd, p.Filename), p.Line)
	})
	if !ok {
		return "mqrpcgen: " + err.Error() + "\n"
	}
	return strings.Join(lines, "\n") + "\n"
}
