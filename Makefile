# make readme-figures          rewrite the figures README.md quotes from their sources
# make readme-figures FULL=1   first measure again: bench_robust.py (accuracy) and bench_suggest.py
#                              (timings: whole-process medians; needs the train extra, a few minutes)
# make check-readme-figures    exit 1 listing every figure that differs (the tests run this too)

PYTHON ?= python
RUNS ?= 15
# the public benchmark JSONL, when it is not where training/evaluate.py looks for it
PUBLIC ?=
PUBLIC_ARG = $(if $(PUBLIC),--public $(PUBLIC))

.PHONY: readme-figures check-readme-figures

readme-figures:
ifeq ($(FULL),1)
	env -u PYTHONDONTWRITEBYTECODE $(PYTHON) -m compileall -q recommender
	env -u PYTHONDONTWRITEBYTECODE $(PYTHON) benchmarks/bench_robust.py $(PUBLIC_ARG)
	env -u PYTHONDONTWRITEBYTECODE $(PYTHON) benchmarks/bench_suggest.py --runs $(RUNS) $(PUBLIC_ARG)
endif
	$(PYTHON) benchmarks/readme_figures.py

check-readme-figures:
	$(PYTHON) benchmarks/readme_figures.py --check
