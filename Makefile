# Two entry points that work on a fresh machine:
#   make demo   set up .venv and run the main job on the shipped sample data (-> out/demo)
#   make test   set up .venv and run the test suite
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: setup demo test lint sample-data throughput lambda-quick benchmark benchmark-replicates benchmark-coverage volumes clean

setup: $(VENV)/.installed

# torch first, pinned to the CPU build that 2.13's range admits (a plain `torch` would pull CUDA)
$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e ".[dev,peers]"
	touch $@

demo: setup
	$(VENV)/bin/geocgan simulate sample_data/wells.csv --grid sample_data/grid.tif \
		--model sample_data/channels.safetensors --value-column facies -n 100 --out out/demo --overwrite

test: setup
	$(PY) -m pytest -q -p no:cacheprovider

lint: setup
	$(VENV)/bin/ruff check geocgan tests workflows

# workflows (one torch thread each: on a shared 2-vCPU machine two threads thrash)
sample-data: setup
	OMP_NUM_THREADS=1 $(PY) workflows/make_sample_data.py

throughput: setup
	OMP_NUM_THREADS=1 $(PY) workflows/throughput.py

volumes: setup
	OMP_NUM_THREADS=1 $(PY) workflows/volumes.py

lambda-quick: setup
	OMP_NUM_THREADS=1 $(PY) workflows/lambda_study.py --quick --threads 1

benchmark: setup
	$(PY) workflows/benchmark_peers.py --threads 1

# the quality statistics over 8 independent truths and wells (two processes of one thread)
benchmark-replicates: setup
	$(PY) workflows/benchmark_replicates.py --replicates 8 --jobs 2

# coverage judged against 90 %: the Gaussian cases with 400-member leave-wells-out ensembles
benchmark-coverage: setup
	$(PY) workflows/benchmark_replicates.py --cases gaussian --peers geone_fft --replicates 8 \
		--jobs 2 --holdout-n 400 --out workflows/results/benchmark/coverage400

clean:
	rm -rf out runs .pytest_cache
