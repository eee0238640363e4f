// Package faults tests the RocketMQ transport while its brokers are killed
// and restarted. The tests stop the shared local brokers, so they are built
// only with the brokerfaults tag and run alone, after every other test:
//
//	go test -tags brokerfaults ./runtime/rocketmq/faults/
//
// `make test` does this as its last step.
package faults
