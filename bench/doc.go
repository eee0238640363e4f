// Package bench compares mqrpc with what it is built on and with what it
// replaces, in one run on the same broker, payloads and machine:
//
//   - mqrpc: the generated clients (echo.EchoClient, calculator.CalculatorClient)
//     over runtime/rocketmq;
//   - raw: rocketmq-client-go's producer.Request with a hand-written replier;
//   - java: RocketMQ's Java DefaultMQProducer.request() with a
//     MessageUtil.createReplyMessage replier (tools/bench/java);
//   - grpc: gRPC-Go unary on loopback;
//   - mem: the generated client over runtime/memtransport;
//   - direct: the method called on the implementation.
//
// Everything is in the _test.go files: `go test -run='^$' -bench=. ./bench/...`
// (see BENCHMARKS.md). It is a module of its own so that gRPC, which only
// the benchmarks need, is not a dependency of mqrpc.
package bench
