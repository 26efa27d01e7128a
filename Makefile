# gloss: build the library, the `gloss` program and the tests.
#   make            library + build/gloss
#   make demo       set up, build, fine-tune the default model on data/sample
#   make test       set up, build and run every test
#   make check      build and run every test (no setup step)
#   make asan       the tests built with AddressSanitizer + UBSan
#   make asan-fast  the same without the end-to-end training test
#   make setup      install Debian packages and fetch the default model (once)

CC      ?= gcc
CFLAGS  ?= -O2 -g
SAN     ?=
# -fno-math-errno: nothing here reads errno after a math function, and without
# it a sqrtf keeps a scalar errno path that blocks vectorising its loop (AdamW);
# it changes no value
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE -Wall -Wextra -fopenmp -fno-math-errno -Iinclude -Isrc $(BLAS_INC) $(CFLAGS) $(SAN)
# oneDNN (Debian: libdnnl-dev) runs the bf16 matrix products on the CPU's
# matrix units (src/kernels/gemm_dnnl.c): used when its header is found (DNNL
# 1: oneapi/dnnl/dnnl.h, 2: dnnl.h), else the build goes on without it and the
# bf16 products use src/kernels/gemm_bf16.c; `make DNNL=0` builds without it.
DNNL    ?= $(if $(wildcard /usr/include/oneapi/dnnl/dnnl.h),1,$(if $(wildcard /usr/include/dnnl.h),2,0))
DNNL_LIBS := $(if $(filter 0,$(DNNL)),,-ldnnl)
LDLIBS  := -lopenblas -lutf8proc -ljansson -llbfgs -lz -lm $(DNNL_LIBS)
# Prefer Debian's OpenMP build of OpenBLAS: inside our OpenMP regions it runs
# single-threaded instead of oversubscribing the cores.
comma   := ,
ARCH    := $(shell gcc -dumpmachine)
BLASDIR := $(wildcard /usr/lib/$(ARCH)/openblas-openmp)
ifneq ($(BLASDIR),)
BLAS_INC := -I/usr/include/$(ARCH)/openblas-openmp
LDFLAGS += -L$(BLASDIR) -Wl,-rpath,$(BLASDIR)
endif
BUILD   ?= build

# MPI, for data-parallel training (docs/distributed.md): on when the MPI
# compiler wrapper is found, which gives the flags (Open MPI's --showme,
# MPICH's -compile_info); WITH_MPI=0 builds the single-process library,
# WITH_MPI=1 fails without MPI. The same sources build either way.
WITH_MPI ?= auto
MPICC    ?= mpicc
ifneq ($(WITH_MPI),0)
MPICC_PATH := $(shell command -v $(MPICC) 2>/dev/null)
ifneq ($(MPICC_PATH),)
MPI_CFLAGS := $(shell $(MPICC) --showme:compile 2>/dev/null || $(MPICC) -compile_info 2>/dev/null | cut -d' ' -f2- | sed 's/ -c\b.*//')
MPI_LIBS   := $(shell $(MPICC) --showme:link 2>/dev/null || $(MPICC) -link_info 2>/dev/null | cut -d' ' -f2-)
ALL_CFLAGS += -DGLOSS_WITH_MPI $(MPI_CFLAGS)
LDLIBS     += $(MPI_LIBS)
else ifeq ($(WITH_MPI),1)
$(error WITH_MPI=1 but $(MPICC) was not found: apt-get install libopenmpi-dev openmpi-bin)
endif
endif

LIB_SRC  := $(sort $(shell find src -name '*.c' ! -path 'src/cli/*'))
CLI_SRC  := $(sort $(wildcard src/cli/*.c))
TEST_SRC := $(sort $(wildcard tests/test_*.c))

LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
CLI_OBJ  := $(CLI_SRC:%.c=$(BUILD)/%.o)
TEST_BIN := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)

.PHONY: all test check check-fast asan asan-fast valgrind setup model demo clean tests bench-gloss bench
.PHONY: fuzz-build fuzz fuzz-ci lib install uninstall
all: $(BUILD)/gloss $(BUILD)/libgloss.so

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

# The library's objects are position-independent (for libgloss.so) with every
# symbol hidden except what include/gloss.h marks GLOSS_API; the static archive
# holds the same objects.
$(LIB_OBJ): ALL_CFLAGS += -fPIC -fvisibility=hidden -DGLOSS_BUILDING_LIBRARY

# gemm_dnnl.o is rebuilt when the oneDNN choice changes (a stamp per choice)
$(BUILD)/src/kernels/gemm_dnnl.o: ALL_CFLAGS += -DGL_HAVE_DNNL=$(DNNL)
$(BUILD)/src/kernels/gemm_dnnl.o: $(BUILD)/.dnnl-$(DNNL)
$(BUILD)/.dnnl-$(DNNL):
	@mkdir -p $(BUILD) && rm -f $(BUILD)/.dnnl-* && touch $@

$(BUILD)/libgloss.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

SONAME := libgloss.so.0
$(BUILD)/libgloss.so: $(LIB_OBJ) tools/libgloss.map
	$(CC) $(ALL_CFLAGS) -shared -Wl,-soname,$(SONAME) -Wl,--no-undefined -Wl,--version-script=tools/libgloss.map \
	  $(LIB_OBJ) -o $@ $(LDFLAGS) $(LDLIBS)
	ln -sf libgloss.so $(BUILD)/$(SONAME)

lib: $(BUILD)/libgloss.a $(BUILD)/libgloss.so

$(BUILD)/gloss: $(CLI_OBJ) $(BUILD)/libgloss.a
	$(CC) $(ALL_CFLAGS) $^ -o $@ $(LDFLAGS) $(LDLIBS)

$(BUILD)/tests/%: tests/%.c $(BUILD)/libgloss.a $(wildcard tests/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Itests $< $(BUILD)/libgloss.a -o $@ $(LDFLAGS) $(LDLIBS)

# test_api links against the shared library, which exports only the public API
$(BUILD)/tests/test_api: tests/test_api.c $(BUILD)/libgloss.so tests/check.h
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Itests $< -o $@ -L$(BUILD) -lgloss -Wl,-rpath,$(abspath $(BUILD)) $(LDFLAGS) -lm

tests: $(TEST_BIN) $(BUILD)/gloss $(BUILD)/libgloss.so

check: tests
	@sh tools/check_layers.sh --cli-strict
	@BUILD=$(BUILD) sh tests/run.sh $(TEST_BIN) $(wildcard tests/test_*.sh)

# every test but the (slow) end-to-end training and CLI ones
FAST_BIN := $(filter-out $(BUILD)/tests/test_train,$(TEST_BIN))
check-fast: $(FAST_BIN) $(BUILD)/gloss
	@BUILD=$(BUILD) sh tests/run.sh $(FAST_BIN)

test: setup
	$(MAKE) check

ASAN_MAKE = $(MAKE) BUILD=build-asan CFLAGS="-O1 -g" \
	  SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined"
# every test under the sanitizers, end-to-end training included (what CI runs;
# about 3 minutes on 2 cores)
asan:
	$(ASAN_MAKE) check
# the same without the end-to-end training test
asan-fast:
	$(ASAN_MAKE) check-fast

$(BUILD)/bench/%: bench/%.c $(BUILD)/libgloss.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $< $(BUILD)/libgloss.a -o $@ $(LDFLAGS) $(LDLIBS)

# G-Loss's share of a training step (all-MiniLM-L6-v2, batch 128, length 128)
bench-gloss: $(BUILD)/bench/bench_gloss_cost
	OMP_NUM_THREADS=$${OMP_NUM_THREADS:-$$(nproc)} $(BUILD)/bench/bench_gloss_cost models/all-MiniLM-L6-v2 3

# data parallelism (docs/distributed.md): 1 against 2 processes of one thread,
# the step per document, G-Loss's cost against the batch, the gradient sum
.PHONY: bench-distributed
bench-distributed: $(BUILD)/gloss $(BUILD)/bench/bench_train $(BUILD)/bench/bench_gloss_scaling $(BUILD)/bench/bench_allreduce
	sh bench/distributed.sh $(BUILD)

# the bf16 GEMMs (ours, oneDNN's) against cblas_sgemm on MiniLM's linear-layer
# shapes and their peaks, 1 and 2 threads, and the kernel choice on this CPU
.PHONY: bench-bf16 bench-bf16-embed
bench-bf16: $(BUILD)/bench/bench_bf16
	$(BUILD)/bench/bench_bf16

# embed with --bf16 against fp32: cosine similarity per document of the R8 test
# split (all-MiniLM-L6-v2, length 256), each bf16 kernel forced on
bench-bf16-embed: $(BUILD)/bench/bf16_embed_check
	OMP_NUM_THREADS=$${OMP_NUM_THREADS:-$$(nproc)} $(BUILD)/bench/bf16_embed_check models/all-MiniLM-L6-v2 \
	  data/benchmarks/r8/test.csv.gz 0 256

# gloss vs PyTorch (same run): training step and inference, MiniLM-L6 and BERT-base
# shapes, batch 32 x 128, 2 threads; sgemm peak, GFLOP/s, peak RSS, per-kernel
# profile (bench/README.md). About 6 minutes on an idle 2-core machine.
bench: $(BUILD)/bench/bench_train
	sh bench/run_bench.sh $(BUILD)

# libFuzzer targets for the parsers (fuzz/README.md), built with clang under
# ASan + UBSan into build-fuzz/: table (CSV/TSV/JSONL/text), config,
# safetensors, vocab, tokenizer, st_config, bpe_files (vocab.json + merges.txt),
# bpe_json (tokenizer.json); the table target also reads .gz.
# `make fuzz` runs each for FUZZ_SECONDS,
# `make fuzz-ci` each for 60 s; new corpus entries and crashes stay in build-fuzz/.
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 600
FUZZ_TARGETS := table config safetensors vocab tokenizer st_config bpe_files bpe_json
FUZZ_LIB_SRC := src/io/table.c src/io/config.c src/io/json_file.c src/io/safetensors.c src/io/st_config.c $(wildcard src/text/*.c) \
	src/util/utf8.c src/util/error.c src/util/fileio.c src/util/gzip.c src/util/strpool.c
FUZZ_FLAGS   := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Iinclude -Isrc -O2 -g -fno-omit-frame-pointer \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
FUZZ_BIN     := $(FUZZ_TARGETS:%=build-fuzz/fuzz_%)

build-fuzz/fuzz_%: fuzz/fuzz_%.c $(wildcard fuzz/*.h) $(FUZZ_LIB_SRC) $(wildcard src/*/*.h)
	@mkdir -p build-fuzz
	$(FUZZ_CC) $(FUZZ_FLAGS) $< $(FUZZ_LIB_SRC) -o $@ -lutf8proc -ljansson -lz -lm

fuzz-build: $(FUZZ_BIN)

fuzz: fuzz-build
	@rc=0; for t in $(FUZZ_TARGETS); do sh fuzz/run.sh $$t $(FUZZ_SECONDS) || rc=1; done; exit $$rc

fuzz-ci: fuzz-build
	@rc=0; for t in $(FUZZ_TARGETS); do sh fuzz/run.sh $$t 60 || rc=1; done; exit $$rc

# memcheck on the tests that run in seconds natively (one thread: valgrind
# serialises threads anyway and OpenMP's pool only adds "possibly lost" noise)
VALGRIND_TESTS := test_io test_table test_metrics test_gloss test_metric_losses test_plot test_kernels test_model_open \
	test_embed_quality test_probe test_pool test_sigma
valgrind: $(VALGRIND_TESTS:%=$(BUILD)/tests/%)
	@for t in $(VALGRIND_TESTS); do \
	  OMP_NUM_THREADS=1 valgrind -q --error-exitcode=9 --leak-check=full \
	    --errors-for-leak-kinds=definite,indirect $(BUILD)/tests/$$t || exit 1; done

# every test program and shell test, and the gloss processes they start, under
# memcheck (tools/valgrind_all.sh; about an hour on 2 cores)
.PHONY: valgrind-all
valgrind-all: $(TEST_BIN) $(BUILD)/gloss
	BUILD=$(BUILD) sh tools/valgrind_all.sh

setup:
	sh tools/setup.sh

DEMO_OUT ?= out/demo
demo: setup
	$(MAKE) all
	OMP_NUM_THREADS=$${OMP_NUM_THREADS:-$$(nproc)} build/gloss train --model models/all-MiniLM-L6-v2 \
	  --data data/sample --out $(DEMO_OUT) --loss gloss

model:
	sh tools/fetch_model.sh

# make install [PREFIX=/usr/local] [DESTDIR=]: the program, the header, the
# static and shared libraries and a pkg-config file (gloss.pc)
PREFIX  ?= /usr/local
LIBDIR  ?= $(PREFIX)/lib
VERSION := $(shell sed -n 's/^\#define GLOSS_VERSION "\(.*\)"/\1/p' include/gloss.h)
install: $(BUILD)/gloss $(BUILD)/libgloss.a $(BUILD)/libgloss.so
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(LIBDIR)/pkgconfig
	install -m 755 $(BUILD)/gloss $(DESTDIR)$(PREFIX)/bin/gloss
	install -m 644 include/gloss.h $(DESTDIR)$(PREFIX)/include/gloss.h
	install -m 644 $(BUILD)/libgloss.a $(DESTDIR)$(LIBDIR)/libgloss.a
	install -m 755 $(BUILD)/libgloss.so $(DESTDIR)$(LIBDIR)/libgloss.so.$(VERSION)
	ln -sf libgloss.so.$(VERSION) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(LIBDIR)/libgloss.so
	sed -e 's|@PREFIX@|$(PREFIX)|; s|@LIBDIR@|$(LIBDIR)|; s|@VERSION@|$(VERSION)|' \
	  -e 's|@BLASDIR@|$(if $(BLASDIR),-L$(BLASDIR) -Wl$(comma)-rpath$(comma)$(BLASDIR) ,)|' \
	  -e 's|-llbfgs -lz -lm|-llbfgs -lz -lm$(if $(DNNL_LIBS), $(DNNL_LIBS),)|' \
	  -e 's|@MPILIBS@|$(MPI_LIBS)|' \
	  tools/gloss.pc.in > $(DESTDIR)$(LIBDIR)/pkgconfig/gloss.pc

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/gloss $(DESTDIR)$(PREFIX)/include/gloss.h $(DESTDIR)$(LIBDIR)/libgloss.a \
	  $(DESTDIR)$(LIBDIR)/libgloss.so $(DESTDIR)$(LIBDIR)/$(SONAME) $(DESTDIR)$(LIBDIR)/libgloss.so.$(VERSION) \
	  $(DESTDIR)$(LIBDIR)/pkgconfig/gloss.pc

clean:
	rm -rf build build-asan

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d)
