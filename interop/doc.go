// Package interop holds mqrpc's cross-language tests: plain Java RocketMQ
// programs (interop/java, built with Maven) call a Go mqrpc server, answer a
// Go mqrpc client and send it one-way calls, over a real broker; and the
// golden wire vectors of testdata/wire are checked by both Go and
// msgpack-java, so that docs/PROTOCOL.md, the Go runtime and a Java
// implementation cannot drift apart.
//
// The tests need MQRPC_NAMESRV, java and mvn; under CI=true they fail
// without them, elsewhere they skip. The Java side is built on first use
// (mvn package, which also runs its JUnit vector test) and rebuilt when its
// sources or the vectors change.
package interop
