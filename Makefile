# cloudrec: `make demo` records a live synthetic channel; `make test` runs the test suite.
# Both create the virtual environment and install everything on first use.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: demo test lint typecheck bench clean ffmpeg

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=25.1"
	$(BIN)/python -m pip install --quiet -e '.[notebooks]' --group dev
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/cloudrec demo

test: $(STAMP) services-up ffmpeg
	$(BIN)/python -m pytest --durations=40

# The inner loop: unit tests only (no Ray cluster, no services), without the slow ones.
.PHONY: test-unit
test-unit: $(STAMP)
	$(BIN)/python -m pytest -q -p no:cacheprovider -m "not slow" tests/unit

# The 200-session actor and memory soak of issue 11 (`make test` runs 30 of them): ~20 min.
.PHONY: soak
soak: $(STAMP)
	CLOUDREC_SOAK_SESSIONS=200 $(BIN)/python -m pytest -s -p no:cacheprovider tests/integration/test_soak.py

# Services the tests need, run by the repo's own scripts; `up` reuses one that already answers.
SERVICES := kafka s3
.PHONY: services-up services-down kafka-up kafka-down
services-up: $(addsuffix -up,$(SERVICES))
services-down: $(addsuffix -down,$(SERVICES))

kafka-up: $(STAMP)
	PYTHON=$(CURDIR)/$(BIN)/python cluster/kafka/kafka.sh up

kafka-down:
	cluster/kafka/kafka.sh down

# S3-compatible server on loopback (moto's server mode), with an IAM key pair in .cloudrec/s3/.
.PHONY: s3-up s3-down
s3-up: $(STAMP)
	PYTHON=$(CURDIR)/$(BIN)/python cluster/s3/up.sh

s3-down:
	cluster/s3/down.sh

# Debian's ffmpeg: the tests play playlists over HTTP with ffprobe; the bench's baseline runs ffmpeg.
ffmpeg:
	command -v ffmpeg >/dev/null && command -v ffprobe >/dev/null || \
		(apt-get update -qq && apt-get install -y -qq ffmpeg)

lint: $(STAMP) typecheck
	$(BIN)/ruff check .

# mypy cannot follow the package-dir mapping through the editable install, so give it
# the package as it is installed: cloudrec/ with actors/, events/, ... linked inside.
typecheck: $(STAMP)
	rm -rf build/typecheck && mkdir -p build/typecheck/cloudrec
	ln -s $(CURDIR)/cloudrec/* build/typecheck/cloudrec/
	for d in actors events projections cluster; do ln -s $(CURDIR)/$$d build/typecheck/cloudrec/$$d; done
	cd build/typecheck && $(CURDIR)/$(BIN)/mypy --config-file $(CURDIR)/pyproject.toml

# The notebooks executed and rendered into build/notebooks/ (not committed): against the log named
# by CLOUDREC_EVENTS (and files in CLOUDREC_STORAGE) if set, else a small recorded test session.
.PHONY: notebooks
notebooks: $(STAMP)
	rm -rf build/notebooks
	$(BIN)/python notebooks/render.py

bench: $(STAMP) ffmpeg
	$(BIN)/python bench/composite.py
	$(BIN)/python bench/individual.py
	$(BIN)/python bench/failover.py
	$(BIN)/python bench/callbacks.py
	$(BIN)/python bench/fleet.py
	$(BIN)/python bench/api.py
	$(BIN)/python bench/capacity.py

clean:
	rm -rf $(VENV) .cloudrec recordings bench/out
