// Package codecs benchmarks mqrpc's codec (msgpack) against encoding/json
// and protobuf binary on the calculator's Add arguments and on a 1 KB
// value; the benchmarks are in codec_bench_test.go.
package codecs
