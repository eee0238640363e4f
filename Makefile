# mqrpc developer entry points. `make demo` runs the calculator over a real
# local RocketMQ broker; `make test` runs every test against one.

GO       ?= go
# The go tool skips testdata/ under ./..., so the compiled golden packages
# of the generator are named explicitly.
PKGS     := ./... ./testdata/golden/... ./testdata/proto/...
BROKER   := tools/rocketmq/broker.sh

.PHONY: demo test test-unit race faults lint generate checkgenerate bench bench-short broker-up broker-down broker-status

# The calculator server and client as two processes over the local broker.
demo:
	@tools/demo.sh

# Every test, against a real broker (two, in one cluster) that is started
# here if it is not already running, and stopped afterwards only if it was
# started here. The broker fault tests kill and restart the brokers, so they
# run last, alone.
test:
	@tools/with-broker.sh $(MAKE) --no-print-directory checkgenerate race faults

faults:
	$(GO) test -race -count=1 -tags brokerfaults ./runtime/rocketmq/faults/

# Tests that need no broker.
test-unit:
	$(GO) test $(PKGS)

race:
	$(GO) test -race -count=1 -timeout 30m $(PKGS)

lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt: files above need formatting"; exit 1; }
	$(GO) vet $(PKGS)

generate:
	$(GO) generate $(PKGS)

# Fails when checked-in generated code differs from what the generators
# produce now.
checkgenerate:
	@tools/checkgenerate.sh

bench:
	$(GO) test -run='^$$' -bench=. -benchmem -count=5 ./... | tee bench.out

# One short pass of every benchmark so that CI keeps the harness working.
bench-short:
	$(GO) test -run='^$$' -bench=. -benchtime=1x ./...

broker-up:
	@$(BROKER) up

broker-down:
	@$(BROKER) down

broker-status:
	@$(BROKER) status
