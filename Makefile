# The two commands of the README. Each sets everything up (a virtual environment in .venv with
# the project and its dependencies), then runs the app or the whole test suite.
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# The web app listens on this machine only; `make app ADDRESS=0.0.0.0` opens it to your network.
ADDRESS ?= 127.0.0.1

export SDL_VIDEODRIVER ?= dummy
export SDL_AUDIODRIVER ?= dummy
export MPLBACKEND ?= Agg

.PHONY: app test learning install clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# `make app CPU=1` (or `make test CPU=1`): PyTorch's CPU build first, for machines without an NVIDIA GPU
# (about 2.3 GB in .venv instead of 6.8 GB with the CUDA libraries). Run it on a fresh .venv (`make clean`).
CPU ?=
TORCH_CPU_INDEX ?= https://download.pytorch.org/whl/cpu

$(STAMP): pyproject.toml | $(BIN)/python
ifneq ($(CPU),)
	$(BIN)/python -m pip install "torch>=2.3,<=2.14.1" --index-url $(TORCH_CPU_INDEX)
endif
	$(BIN)/python -m pip install -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

app: install
	$(BIN)/streamlit run streamlit_app.py --server.address $(ADDRESS)

# pytest exits 5 when it collects nothing; that must fail too, and it does, since make stops on any non-zero status.
# One test process per core (pytest-xdist), each training with its share of the cores (tests/conftest.py): many
# tests wait on a child process, a server or a browser, and a second process fills that time. Tests of one
# xdist_group share one process: the Ray ones (one loopback Ray cluster serves them all), and those that measure with
# the GAN feature networks (trained once, while the other process goes on with other tests). The 25 slowest
# tests are listed at the end. The learning checks (tests marked `slow`: a preset solves CartPole, InfoGAN's code
# learns the digit...) train for up to about four minutes each: they are `make learning`, not `make test`.
test: install
	$(BIN)/python -m pytest -n auto --maxprocesses 8 --dist loadgroup --durations=25 -m "not slow"

# Does each algorithm still learn? Every learning threshold the tests hold, on this machine's cores.
learning: install
	$(BIN)/python -m pytest -n auto --maxprocesses 8 --dist loadgroup --durations=0 -m slow

clean:
	rm -rf $(VENV) .pytest_cache
