# Strata — build, test and demo entry points. See README.md.
SWIFT       ?= swift
DEMO_ROOT   ?= $(CURDIR)/demo-store
APT_PACKAGES = libarchive-dev zlib1g-dev pkg-config python3
DEBUG_BIN    = .build/debug/strata
RELEASE_BIN  = .build/release/strata

.PHONY: all deps build build-debug test demo bench clean

all: build

# Install the C libraries (and python3, which tests use to build archives) only when missing.
deps:
	@if ! command -v pkg-config >/dev/null 2>&1 || ! pkg-config --exists libarchive zlib || ! command -v python3 >/dev/null 2>&1; then \
		echo "installing $(APT_PACKAGES)"; \
		SUDO=$$( [ "$$(id -u)" -eq 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $(APT_PACKAGES); \
	fi

build: deps
	$(SWIFT) build -c release

build-debug: deps
	$(SWIFT) build

test: deps
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build

# Publish both fixture versions into a fresh demo store (v2 as a tar.gz on stdin) and make v1
# live, then v2.
demo: build-debug
	@chmod -R u+w "$(DEMO_ROOT)" 2>/dev/null; rm -rf "$(DEMO_ROOT)"
	$(DEBUG_BIN) publish site-fixtures/aurora-v1 --root "$(DEMO_ROOT)" --label v1 --activate
	tar -C site-fixtures/aurora-v2 -czf - . | $(DEBUG_BIN) publish - --root "$(DEMO_ROOT)" --label v2
	$(DEBUG_BIN) activate v2 --root "$(DEMO_ROOT)"
	$(DEBUG_BIN) releases --root "$(DEMO_ROOT)"
	$(DEBUG_BIN) status --root "$(DEMO_ROOT)"
	$(DEBUG_BIN) verify --root "$(DEMO_ROOT)"
	@echo "demo store: $(DEMO_ROOT)  (try: $(DEBUG_BIN) rollback --root $(DEMO_ROOT))"

# Hashing and publishing against sha256sum and cp -a; a 1 GiB archive against tar + sha256sum +
# gzip. The server benchmarks against nginx come with `strata serve`.
bench: build
	@command -v hyperfine >/dev/null && [ -x /usr/bin/time ] || { SUDO=$$( [ "$$(id -u)" -eq 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq hyperfine time; }
	bench/hash-speed.sh $(RELEASE_BIN)
	bench/archive-publish.sh $(RELEASE_BIN)

clean:
	@chmod -R u+w "$(DEMO_ROOT)" 2>/dev/null; rm -rf "$(DEMO_ROOT)" .build
