# make run   install, build, start the mesh on the bundled model (2 shards, 25 % device budget, expertflow),
#            send one demo generation, print each shard's cache statistics, and keep serving
# make test  install, build, check formatting and lint (biome), and run every test
# make test-reliability  the long reliability suite (faults against real meshes, ~15 min): prints its table
# make test-secure  the e2e suite with every mesh on mTLS and NATS auth + TLS (EXPERTMESH_SECURE_MESH=1)
SHELL := /bin/sh
export ONNXRUNTIME_NODE_INSTALL := skip
STAMP := node_modules/.install-stamp
PROMPT ?= The state of the Union is

.PHONY: install build run test lint format test-reliability test-secure system-deps clean

$(STAMP): package.json package-lock.json $(wildcard packages/*/package.json services/*/package.json e2e/package.json models/*/package.json)
	npm ci --no-audit --no-fund
	touch $@

install: $(STAMP) system-deps

system-deps:
	sh scripts/install-system-deps.sh

# npm links a workspace's bin at install time only if its target exists, and dist/ is built after the
# install: link `npx expertmesh` (node_modules/.bin/expertmesh) here, once the target is built.
build: $(STAMP)
	npx tsc -b
	chmod +x packages/cli/dist/main.js
	ln -sfn ../@expertmesh/cli/dist/main.js node_modules/.bin/expertmesh

run: install build
	node packages/cli/dist/main.js up --shards 2 --device-budget 25% --policy expertflow --demo "$(PROMPT)"

test: install build
	npx biome check --max-diagnostics=20 .
	npm run --silent lint:proto
	npm run --silent breaking:proto
	sh scripts/test.sh

test-reliability: install build
	node e2e/dist/reliability-main.js

test-secure: install build
	EXPERTMESH_SECURE_MESH=1 sh scripts/test.sh e2e

clean:
	npx tsc -b --clean

# make lint    the formatter's and linter's check (biome.json: biome's recommended rules), also run by make test.
#              Rules turned off, and why: noNonNullAssertion (indices the code has checked; `!` says so),
#              useTemplate (a short `a + " " + b` reads as well), noForEach (forEach with an index is idiomatic
#              here), noAssignInExpressions (`(d) => (out += d)` collectors, `cache ??= load()`), noImplicitAnyLet
#              (strict TypeScript types a `let x;` from its assignments and rejects one it cannot type);
#              organizeImports is off (import order is not checked). One-off exceptions carry a biome-ignore
#              comment with its reason.
lint: $(STAMP)
	npx biome check --max-diagnostics=20 .

format: $(STAMP)
	npx biome format --write .
