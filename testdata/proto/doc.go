// Package proto holds the golden packages of protoc-gen-mqrpc: .proto
// files, the .pb.go protoc-gen-go writes for them, the .mqrpc.go
// protoc-gen-mqrpc writes, and tests that call through the latter.
// cmd/protoc-gen-mqrpc's tests feed the compiled-in descriptors of these
// files to the plugin in process and compare its output byte for byte
// (go test ./cmd/protoc-gen-mqrpc -update rewrites it), and run the real
// protoc over them.
//
// The services here carry no comments: descriptors compiled into Go
// programs have no source info, so comments could not reach the
// in-process run. examples/calcpb shows comments carried over.
package proto

//go:generate go run github.com/mqrpc/mqrpc/internal/protocrun --go_out=. --go_opt=paths=source_relative --mqrpc_out=. --mqrpc_opt=paths=source_relative shared/shared.proto multi/a.proto multi/b.proto legacy/legacy.proto kitchen/kitchen.proto
