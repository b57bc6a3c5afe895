# Two commands set up a fresh machine: `make run` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-tools browser check bench install runtimes dashboard-assets network-tools clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP) runtimes dashboard-assets network-tools

# nftables gives environments NATed egress from their own network namespaces; without `nft`
# they keep loopback and the Stratus endpoint only, and `stratus serve` says so.
network-tools:
	@command -v nft >/dev/null || test -x /usr/sbin/nft || apt-get install -y -qq nftables || \
		(apt-get update -qq && apt-get install -y -qq nftables) || \
		echo "nftables unavailable: functions will have no outbound network"

# The dashboard's chart library, uPlot (MIT), from the npm registry; not kept in git. Without
# it the dashboard still serves and says that its charts need `make install`.
UPLOT_VERSION := 1.6.32
VENDOR := stratus/dashboard/static/vendor
dashboard-assets:
	@if [ -f $(VENDOR)/uPlot.iife.min.js ] && [ -f $(VENDOR)/uPlot.min.css ] && [ -f $(VENDOR)/LICENSE ]; then \
		exit 0; fi; \
	tmp=$$(mktemp -d) && \
	(cd $$tmp && npm pack --silent uplot@$(UPLOT_VERSION) >/dev/null && tar xzf uplot-$(UPLOT_VERSION).tgz) && \
	mkdir -p $(VENDOR) && \
	cp $$tmp/package/dist/uPlot.iife.min.js $$tmp/package/dist/uPlot.min.css $$tmp/package/LICENSE $(VENDOR)/ && \
	echo "uPlot $(UPLOT_VERSION) installed in $(VENDOR)" || \
	echo "could not fetch uPlot with npm: the dashboard will serve without charts"; \
	rm -rf $$tmp

# Gson is the Java runtime client's JSON library (Debian's package; Maven is not reachable here).
runtimes: $(STAMP)
	@test -f /usr/share/java/gson.jar || apt-get install -y -qq libgoogle-gson-java || \
		(apt-get update -qq && apt-get install -y -qq libgoogle-gson-java) || \
		echo "libgoogle-gson-java unavailable: the Java runtimes will be refused"
	$(BIN)/stratus runtimes install

run: install
	$(BIN)/stratus serve

check: $(STAMP)
	$(BIN)/ruff check stratus tests bench
	$(BIN)/mypy stratus
	$(BIN)/lint-imports

# The tests drive the server with curl too, and build a compiled custom-runtime bootstrap.
# Debian's awscli is version 2, whose `aws logs tail --follow` the log tests run (the venv's
# PyPI awscli is version 1, which has no `tail`).
test-tools:
	@command -v curl >/dev/null && command -v cc >/dev/null && test -x /usr/bin/aws || \
		(apt-get update -qq && apt-get install -y -qq curl gcc libc6-dev awscli) || \
		echo "could not install curl, gcc and awscli; the tests that need them will fail"

# The dashboard's tests drive Debian's Chromium with Playwright (no browser download).
browser:
	@command -v chromium >/dev/null || \
		(apt-get update -qq && apt-get install -y -qq chromium) || \
		echo "could not install chromium; the dashboard's browser tests will fail"

test: install check test-tools browser
	$(BIN)/pytest -q

bench: install
	command -v wrk >/dev/null || apt-get install -y -qq wrk || echo "wrk unavailable: the asyncio load generator will be used"
	$(BIN)/python -m bench.run
	$(BIN)/python -m bench.snapshot
	$(BIN)/python -m bench.scale
	$(BIN)/python -m bench.async_bench
	$(BIN)/python -m bench.schedule_bench
	$(BIN)/python -m bench.http_bench
	$(BIN)/python -m bench.http_bench --runtime nodejs20.x
	$(BIN)/python -m bench.coldstart_bench
	$(BIN)/python -m bench.runtimes_bench
	$(BIN)/python -m bench.telemetry_bench
	$(BIN)/python -m bench.flood_bench
	$(BIN)/python -m bench.slowloris_bench
	$(BIN)/python -m bench.authz_bench
	$(BIN)/python -m bench.s3_bench
	$(BIN)/python -m bench.messaging_bench
	$(BIN)/python -m bench.tables_bench
	$(BIN)/python -m bench.workflows_bench
	$(BIN)/python -m bench.events_bench
	$(BIN)/python -m bench.dev_bench
	$(BIN)/python -m bench.recording_bench

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
