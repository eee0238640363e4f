// Package recordpb is the protobuf form of the codec benchmarks' 1 KB value.
package recordpb

//go:generate sh -c "go build -o protoc-gen-go.bin google.golang.org/protobuf/cmd/protoc-gen-go && protoc --plugin=protoc-gen-go=protoc-gen-go.bin --go_out=. --go_opt=paths=source_relative record.proto; rc=$?; rm -f protoc-gen-go.bin; exit $rc"
