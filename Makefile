# Strata — build, test and demo entry points. See README.md.
SWIFT       ?= swift
DEMO_ROOT   ?= $(CURDIR)/demo-store
DEMO_PORT   ?= 8080
APT_PACKAGES = libarchive-dev zlib1g-dev libdeflate-dev libbrotli-dev libzstd-dev pkg-config python3
DEBUG_BIN    = .build/debug/strata
RELEASE_BIN  = .build/release/strata

.PHONY: all deps s3-deps build build-debug test demo bench bench-deps bench-archive soak e2e e2e-deps clean install install-files uninstall test-deps

all: build

# Install the C libraries (and python3, which tests use to build archives) only when missing.
deps:
	@if ! command -v pkg-config >/dev/null 2>&1 || ! pkg-config --exists libarchive zlib libdeflate libbrotlienc libbrotlidec libzstd || ! command -v python3 >/dev/null 2>&1; then \
		echo "installing $(APT_PACKAGES)"; \
		SUDO=$$( [ "$$(id -u)" -eq 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $(APT_PACKAGES); \
	fi

build: deps
	$(SWIFT) build -c release

build-debug: deps
	$(SWIFT) build

# moto (a real S3 protocol server, from PyPI) in a venv of its own, for the object-store tests and
# benchmarks; awscli beside it for the benchmarks' peer. Installed once, when missing.
S3_VENV     = .build/s3-venv
S3_PACKAGES = moto[server]==5.2.1 awscli
s3-deps:
	@if ! [ -x $(S3_VENV)/bin/moto_server ] || ! [ -x $(S3_VENV)/bin/aws ]; then \
		echo "installing $(S3_PACKAGES) into $(S3_VENV)"; \
		python3 -m venv $(S3_VENV) 2>/dev/null || { \
			SUDO=$$( [ "$$(id -u)" -eq 0 ] || echo sudo ); \
			$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq python3-venv && \
			rm -rf $(S3_VENV) && python3 -m venv $(S3_VENV); }; \
		$(S3_VENV)/bin/pip install -q '$(word 1,$(S3_PACKAGES))' $(word 2,$(S3_PACKAGES)); \
	fi

# What tests check with: systemd-analyze (the unit), man (the man page), goaccess (the access log),
# prometheus and promtool (the metrics), nginx and caddy with openssl and curl (the proxy configs
# of docs/operations.md), setpriv and mount (serving as an unprivileged user, full disks), ssh-keygen
# (checks release signatures as the standard tool), brotli and zstd (decode the variants).
TEST_TOOLS    = systemd-analyze man goaccess prometheus nginx caddy openssl curl setpriv mount ssh-keygen brotli zstd
TEST_PACKAGES = systemd man-db goaccess prometheus nginx-light caddy openssl curl util-linux mount openssh-client brotli zstd
test-deps:
	@missing=; for tool in $(TEST_TOOLS); do command -v $$tool >/dev/null 2>&1 || missing="$$missing $$tool"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing $(TEST_PACKAGES) (missing:$$missing)"; \
		SUDO=$$( [ "$$(id -u)" -eq 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $(TEST_PACKAGES); \
	fi

# A compiler warning in our own targets fails the build (dependencies' warnings are theirs).
OWN_WARNINGS = ^($(CURDIR)/(Sources|Tests)/[^:]*|macro expansion [^:]*):[0-9]+:[0-9]+: warning:
test: deps s3-deps test-deps
	@mkdir -p .build
	@$(SWIFT) build --build-tests > .build/test-build.log 2>&1; status=$$?; cat .build/test-build.log; [ $$status -eq 0 ]
	@if grep -qE '$(OWN_WARNINGS)' .build/test-build.log; then \
		grep -E '$(OWN_WARNINGS)' .build/test-build.log | sort -u >&2; \
		echo "make test: our code has compiler warnings (listed above); fix them" >&2; exit 1; fi
	$(SWIFT) build --product generate-manual
	SWIFT=$(SWIFT) Tests/run-suite.sh

# Publish both fixture versions into a fresh demo store (v2 as a tar.gz on stdin), make v1 live,
# then v2, and serve the store on DEMO_PORT until Ctrl-C.
demo: build-debug
	@chmod -R u+w "$(DEMO_ROOT)" 2>/dev/null; rm -rf "$(DEMO_ROOT)"
	$(DEBUG_BIN) publish site-fixtures/aurora-v1 --root "$(DEMO_ROOT)" --label v1 --activate
	tar -C site-fixtures/aurora-v2 -czf - . | $(DEBUG_BIN) publish - --root "$(DEMO_ROOT)" --label v2
	$(DEBUG_BIN) activate v2 --root "$(DEMO_ROOT)"
	$(DEBUG_BIN) releases --root "$(DEMO_ROOT)"
	$(DEBUG_BIN) status --root "$(DEMO_ROOT)"
	$(DEBUG_BIN) verify --root "$(DEMO_ROOT)"
	@echo "demo store: $(DEMO_ROOT); serving it now (Ctrl-C stops). In another terminal:"
	@echo "  curl -i http://127.0.0.1:$(DEMO_PORT)/"
	@echo "  curl -i http://127.0.0.1:$(DEMO_PORT)/_v/$$(cat $(DEMO_ROOT)/channels/current)/assets/vendor.a1d646b7.js"
	@echo "  $(DEBUG_BIN) rollback --root $(DEMO_ROOT)    # the next request is served from v1"
	$(DEBUG_BIN) serve --root "$(DEMO_ROOT)" --port $(DEMO_PORT) --access-log -

# Benchmarks against real peers (see docs/benchmarks.md): publish against cp/sha256sum/gzip and
# rsync, serve against nginx, Caddy, h2o, lighttpd and a floor (bench/floor.c), flips under load. BENCH=quick for a small, fast run.
BENCH_PACKAGES = wrk nginx-light caddy h2o lighttpd gcc rsync curl time python3 linux-perf brotli zstd
bench-deps:
	@if ! command -v wrk >/dev/null || ! command -v caddy >/dev/null || ! command -v rsync >/dev/null \
		|| ! command -v h2o >/dev/null || ! { command -v lighttpd >/dev/null || [ -x /usr/sbin/lighttpd ]; } || ! command -v cc >/dev/null \
		|| ! [ -x /usr/bin/time ] || ! { command -v nginx >/dev/null || [ -x /usr/sbin/nginx ]; } || ! command -v perf >/dev/null \
		|| ! command -v brotli >/dev/null || ! command -v zstd >/dev/null; then \
		echo "installing $(BENCH_PACKAGES)"; \
		SUDO=$$( [ "$$(id -u)" -eq 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $(BENCH_PACKAGES); \
	fi

bench: build bench-deps s3-deps
	bench/run.sh $(RELEASE_BIN)

# Not in CI: 10 minutes of steady load with a flip every second; RSS must stay within 10% of its
# value after warm-up, with no error (docs/benchmarks.md, "Soak"). SOAK_MINUTES shortens it.
SOAK_MINUTES ?= 10
soak: build bench-deps
	bench/soak.py --strata $(RELEASE_BIN) --work .build/soak --minutes $(SOAK_MINUTES) --out bench/out/soak.json

# A 1 GiB tar.gz published against tar -xzf + sha256sum + gzip (issue-size archives; slower).
bench-archive: build bench-deps
	bench/archive-publish.sh $(RELEASE_BIN)

# The browser end-to-end checks: headless Chromium driven by Selenium against strata serve (a
# release's life; then gradual releases, also behind Varnish; then release hosts, and Varnish with
# xkey and nginx's proxy_cache in front). Screenshots go to .build/e2e/.
E2E_PACKAGES = chromium chromium-driver python3-pip varnish varnish-modules nginx-light
e2e-deps:
	@SUDO=$$( [ "$$(id -u)" -eq 0 ] || echo sudo ); \
	if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null || ! { command -v varnishd >/dev/null || [ -x /usr/sbin/varnishd ]; } \
		|| ! ls /usr/lib/*/varnish/vmods/libvmod_xkey.so >/dev/null 2>&1 || ! { command -v nginx >/dev/null || [ -x /usr/sbin/nginx ]; }; then \
		echo "installing $(E2E_PACKAGES)"; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $(E2E_PACKAGES); \
	fi; \
	if ! python3 -c 'import selenium' 2>/dev/null; then \
		echo "installing selenium from PyPI"; \
		python3 -m pip --version >/dev/null 2>&1 || { $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq python3-pip; }; \
		python3 -m pip install -q selenium 2>/dev/null || python3 -m pip install -q --break-system-packages selenium; \
	fi

e2e: build-debug e2e-deps
	python3 Tests/e2e/browser_e2e.py --strata $(DEBUG_BIN) --out .build/e2e
	PATH="$$PATH:/usr/sbin" python3 Tests/e2e/rollout_e2e.py --strata $(DEBUG_BIN)
	PATH="$$PATH:/usr/sbin" python3 Tests/e2e/preview_cdn_e2e.py --strata $(DEBUG_BIN)

clean:
	@chmod -R u+w "$(DEMO_ROOT)" 2>/dev/null; rm -rf "$(DEMO_ROOT)" .build

# Installs like other tools: the binary, the man page (argument-parser's generate-manual), bash,
# zsh and fish completions, and the systemd unit (ExecStart pointing at this PREFIX). DESTDIR is
# honoured for packaging. install-files installs an already built BIN (the tests use it).
PREFIX      ?= /usr/local
DESTDIR     ?=
BIN         ?= $(RELEASE_BIN)
BINDIR       = $(DESTDIR)$(PREFIX)/bin
MANDIR       = $(DESTDIR)$(PREFIX)/share/man/man1
BASHDIR      = $(DESTDIR)$(PREFIX)/share/bash-completion/completions
ZSHDIR       = $(DESTDIR)$(PREFIX)/share/zsh/site-functions
FISHDIR      = $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d
UNITDIR      = $(DESTDIR)$(PREFIX)/lib/systemd/system
MANUAL_TOOL  = .build/debug/generate-manual

install: build
	$(SWIFT) build --product generate-manual
	$(MAKE) install-files

install-files:
	@test -x "$(BIN)" || { echo "install: $(BIN) is not built; run make install" >&2; exit 1; }
	@test -x "$(MANUAL_TOOL)" || { echo "install: $(MANUAL_TOOL) is not built; run make install" >&2; exit 1; }
	install -d "$(BINDIR)" "$(MANDIR)" "$(BASHDIR)" "$(ZSHDIR)" "$(FISHDIR)" "$(UNITDIR)"
	install -m 0755 "$(BIN)" "$(BINDIR)/strata"
	@manual=$$(mktemp -d) && "$(MANUAL_TOOL)" "$(BIN)" --authors "Strata developers" -o "$$manual" \
		&& install -m 0644 "$$manual/strata.1" "$(MANDIR)/strata.1"; status=$$?; rm -rf "$$manual"; exit $$status
	"$(BIN)" --generate-completion-script bash > "$(BASHDIR)/strata"
	"$(BIN)" --generate-completion-script zsh > "$(ZSHDIR)/_strata"
	"$(BIN)" --generate-completion-script fish > "$(FISHDIR)/strata.fish"
	sed 's|@BINDIR@|$(PREFIX)/bin|' contrib/strata-serve.service > "$(UNITDIR)/strata-serve.service"
	chmod 0644 "$(BASHDIR)/strata" "$(ZSHDIR)/_strata" "$(FISHDIR)/strata.fish" "$(UNITDIR)/strata-serve.service"

uninstall:
	rm -f "$(BINDIR)/strata" "$(MANDIR)/strata.1" "$(BASHDIR)/strata" "$(ZSHDIR)/_strata" \
		"$(FISHDIR)/strata.fish" "$(UNITDIR)/strata-serve.service"
