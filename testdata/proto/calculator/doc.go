// Package calculatorpb is the Calculator of calculator.proto as protoc
// writes it: the messages (calculator.pb.go, by protoc-gen-go) and the
// mqrpc service (calculator.mqrpc.go, by protoc-gen-mqrpc). Its twin,
// gocalc, is the same service declared as a Go interface over these
// messages.
//
// Unlike the golden packages of testdata/proto, this file is compiled by
// the real protoc only, so its comments reach the generated code.
package calculatorpb

//go:generate go run github.com/mqrpc/mqrpc/internal/protocrun -I.. --go_out=.. --go_opt=paths=source_relative --mqrpc_out=.. --mqrpc_opt=paths=source_relative calculator/calculator.proto
