# mqrpc developer entry points. `make demo` runs the calculator over a real
# local RocketMQ broker; `make test` runs every test against one.

GO       ?= go
# The go tool skips testdata/ under ./..., so the compiled golden packages
# of the generator are named explicitly.
PKGS     := ./... ./testdata/golden/... ./testdata/proto/... ./testdata/internal/...
BROKER   := tools/rocketmq/broker.sh

.PHONY: demo test test-unit race norace faults lint generate checkgenerate bench bench-run bench-short bench-java broker-up broker-down broker-status

# The calculator server and client as two processes over the local broker.
demo:
	@tools/prereqs.sh demo
	@tools/demo.sh

# Every test, against a real broker (two, in one cluster) that is started
# here if it is not already running, and stopped afterwards only if it was
# started here. The broker fault tests kill and restart the brokers, so they
# run last, alone.
test:
	@tools/prereqs.sh test
	@tools/with-broker.sh $(MAKE) --no-print-directory checkgenerate race norace bench-short faults

# The broker tests that the race target cannot run, because the race
# detector reports data races inside rocketmq-client-go in them: the
# ordered-call tests (the orderly consumer reads its queue's message cache
# without the lock its pulls write it under, consumer/process_queue.go
# takeMessages, and its queue-lock retries read the client's closed flag
# while a shutdown writes it) and the broken-connection test (a consumer's
# shutdown closes a queue's message channel while a pull returning during
# it may still send on it). They are built with !race and run here.
norace:
	$(GO) test -count=1 -run 'Ordered|PullsResumeAfterBrokenConnection' ./runtime/rocketmq/

faults:
	$(GO) test -race -count=1 -tags brokerfaults ./runtime/rocketmq/faults/
	$(GO) test -race -count=1 -tags brokerfaults -run SIGKILL ./examples/calculator/

# Tests that need no broker.
test-unit:
	$(GO) test $(PKGS)

race:
	$(GO) test -race -count=1 -timeout 30m $(PKGS)

lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt: files above need formatting"; exit 1; }
	$(GO) vet $(PKGS)
	cd bench && $(GO) vet ./...

# Every generated file, the bench module's too (tools/generate.sh holds
# the list that checkgenerate checks).
generate:
	@GO=$(GO) tools/generate.sh

# Fails when checked-in generated code differs from what the generators
# produce now.
checkgenerate:
	@tools/checkgenerate.sh

# Every number of BENCHMARKS.md in one run against the local broker (about
# 20 minutes). bench/ is a module of its own, so that gRPC, which it compares
# against, is no dependency of mqrpc.
bench: bench-java
	@tools/with-broker.sh $(MAKE) --no-print-directory bench-run

bench-run:
	$(GO) test -run='^$$' -bench=. -benchmem -count=6 ./runtime/ ./codec/
	cd bench && $(GO) test -run='^$$' -bench='Latency|Throughput' -benchmem -count=6 -timeout 60m . | tee results/calls.txt
	cd bench && $(GO) test -run='^$$' -bench=Pending -benchmem -count=1 -timeout 20m . | tee results/pending.txt
	cd bench && for p in mqrpc raw grpc mem; do $(GO) test -run='^$$' -bench="Soak/path=$$p\$$" -benchmem -count=1 -timeout 20m . || exit 1; done | tee results/soak.txt
	cd bench && $(GO) test -run='^$$' -bench=. -benchmem -count=6 ./codecs/ | tee results/codecs.txt
	uptime >> bench/results/load.txt
	python3 tools/bench/table.py bench/results/calls.txt bench/results/pending.txt bench/results/soak.txt
	-python3 tools/bench/plot.py bench/results/calls.txt bench/results/bench.png

# Every benchmark once with small counts, so that CI keeps the harness
# working; timings from it mean nothing.
bench-short: bench-java
	$(GO) test -run='^$$' -bench=. -benchtime=1x $(PKGS)
	cd bench && $(GO) test -run='^$$' -bench=. -benchtime=1x -short ./...

bench-java:
	mvn -q -B -f tools/bench/java/pom.xml package -DskipTests

broker-up:
	@$(BROKER) up

broker-down:
	@$(BROKER) down

broker-status:
	@$(BROKER) status
