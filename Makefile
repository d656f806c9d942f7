# make run   install, build, and generate text with the bundled model
# make test  install, build, and run every test
SHELL := /bin/sh
export ONNXRUNTIME_NODE_INSTALL := skip
STAMP := node_modules/.install-stamp
PROMPT ?= The state of the Union is

.PHONY: install build run test system-deps clean

$(STAMP): package.json package-lock.json $(wildcard packages/*/package.json services/*/package.json e2e/package.json models/*/package.json)
	npm ci --no-audit --no-fund
	touch $@

install: $(STAMP) system-deps

system-deps:
	sh scripts/install-system-deps.sh

build: $(STAMP)
	npx tsc -b

run: build
	node packages/cli/dist/main.js generate --prompt "$(PROMPT)" --max-tokens 80 --temperature 0.7 --seed 1

test: install build
	sh scripts/test.sh

clean:
	npx tsc -b --clean
