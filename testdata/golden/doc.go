// Package golden holds the generator's golden packages: each directory
// beneath is a Go package with an interface, the //go:generate line that
// runs mqrpcgen on it, the checked-in output, and a test that makes real
// calls through that output. cmd/mqrpcgen's tests regenerate each one and
// compare bytes (go test ./cmd/mqrpcgen -update rewrites them).
package golden
