# Vigie — two commands on a fresh Debian machine:
#   make demo   installs everything, then runs the demo
#   make test   installs everything, then runs the whole test suite
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# Debian's multiarch directory (x86_64-linux-gnu, aarch64-linux-gnu), where GStreamer's plugins live.
MULTIARCH := $(shell uname -m)-linux-gnu
# Debian packages the project needs, as "command-or-file:package" pairs. GStreamer's RTSP server, run by
# Debian's own python3 (python3-gi), serves the footage as a real IP camera in the tests; x264 and libav
# transcode it to H.264 once per run.
SYSTEM_DEPS := /usr/sbin/mosquitto:mosquitto /usr/bin/mosquitto_passwd:mosquitto-clients \
               /usr/bin/openssl:openssl /usr/bin/pg_lsclusters:postgresql \
               /usr/bin/node:nodejs /usr/bin/npm:npm /usr/bin/chromium:chromium \
               /usr/bin/systemd-analyze:systemd \
               /usr/lib/$(MULTIARCH)/girepository-1.0/GstRtspServer-1.0.typelib:gir1.2-gst-rtsp-server-1.0 \
               /usr/lib/python3/dist-packages/gi/__init__.py:python3-gi \
               /usr/lib/$(MULTIARCH)/gstreamer-1.0/libgstrtp.so:gstreamer1.0-plugins-good \
               /usr/lib/$(MULTIARCH)/gstreamer-1.0/libgstvideoparsersbad.so:gstreamer1.0-plugins-bad \
               /usr/lib/$(MULTIARCH)/gstreamer-1.0/libgstx264.so:gstreamer1.0-plugins-ugly \
               /usr/lib/$(MULTIARCH)/gstreamer-1.0/libgstlibav.so:gstreamer1.0-libav

.PHONY: all install system-deps web-assets js-client demo test lint bench clean

all: install

system-deps:
	@missing=""; \
	for pair in $(SYSTEM_DEPS); do \
	  path=$${pair%%:*}; pkg=$${pair##*:}; \
	  [ -e "$$path" ] || missing="$$missing $$pkg"; \
	done; \
	$(PYTHON) -c 'import venv, ensurepip' 2>/dev/null || missing="$$missing python3-venv"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" != 0 ]; then \
	    echo "make: missing Debian packages:$$missing — run: sudo apt-get install -y$$missing" >&2; exit 1; \
	  fi; \
	  echo "installing Debian packages:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

$(VENV)/.installed: pyproject.toml | system-deps
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

# The web UI's npm libraries, copied with their licences into coordinator/web/static/vendor/.
WEB_VENDOR_STAMP := coordinator/web/static/vendor/.lock-sha256
$(WEB_VENDOR_STAMP): coordinator/web/frontend/package-lock.json coordinator/web/vendor.py | system-deps $(VENV)/.installed
	$(PY) -m coordinator.web.vendor && touch $@

web-assets: $(WEB_VENDOR_STAMP)

# The JavaScript client's test dependency (npm mqtt, for its live test), pinned by its lock file.
JS_CLIENT_STAMP := clients/js/node_modules/.package-lock.json
$(JS_CLIENT_STAMP): clients/js/package-lock.json | system-deps
	cd clients/js && npm ci --no-audit --no-fund --loglevel=error

js-client: $(JS_CLIENT_STAMP)

install: system-deps $(VENV)/.installed web-assets js-client

demo: install
	$(VENV)/bin/vigie-coordinator demo

# Test files run two at a time (one per core; most tests wait on brokers, databases and child processes): a
# file's tests stay together on one worker, so its module and session fixtures are built once.
TEST_WORKERS ?= 2

test: install
	bash .ci/services
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile

lint: install
	$(VENV)/bin/ruff check vigie_wire vigie_config edge_agent coordinator tests bench
	$(VENV)/bin/mypy

bench: install
	$(PY) bench/link_bench.py --write bench/RESULTS.md

clean:
	rm -rf $(VENV) var .pytest_cache .hypothesis coordinator/web/static/vendor coordinator/web/frontend/node_modules clients/js/node_modules
