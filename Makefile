# sluice: make builds every tool into $(O)/bin; make test runs the tests.
# make SANITIZE=1 test builds with ASan/UBSan into build-asan/.

SANITIZE ?=
ifeq ($(SANITIZE),1)
O ?= build-asan
CFLAGS ?= -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS ?= -fsanitize=address,undefined
else
O ?= build
CFLAGS ?= -O2 -g
# The kernels' loops vectorize at -O3; sqrtf only without errno; the
# clamps and selects of k_expf only without trapping math (else GCC keeps
# them as branches, and the AVX2 builds of GELU and the softmaxes stayed
# scalar).  Neither changes a value.
KERNEL_CFLAGS ?= -O3 -fno-math-errno -fno-trapping-math
endif

CC ?= cc
PREFIX ?= /usr/local
BINDIR = $(PREFIX)/bin
MANDIR = $(PREFIX)/share/man
DATADIR = $(PREFIX)/share/sluice

# Flags from pkg-config, written by scripts/deps.sh (which installs missing
# Debian packages when run as root, and otherwise names them).
-include $(O)/config.mk

# Warnings are shown, not fatal: a newer compiler's new warning must not stop
# a user's build.  make check (and CI) turns them into errors.
WERROR ?=
# -ffp-contract=off: no fused multiply-adds the source does not write (gcc
# already so in ISO C mode; clang not), so results do not depend on the compiler.
# -MMD -MP: each object's header dependencies, in $(O)/**/*.d.
ALL_CFLAGS = -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -ffp-contract=off -Wall -Wextra $(WERROR) \
	-Ilib -Ikernels -fopenmp $(PKG_CFLAGS) $(BLAS_CFLAGS) $(CFLAGS)
# Everything above the library sees the programs' headers too; the library
# and the kernels do not (doc/architecture.md).
PROG_CFLAGS = -Iprograms
DEPFLAGS = -MMD -MP
BASE_LIBS = $(PKG_LIBS) -lpthread -lm
ALL_LIBS = $(PKG_LIBS) $(PCRE2_LIBS) $(BLAS_LIBS) -fopenmp -lpthread -lm

KERNEL_SRC = $(wildcard kernels/*.c)
LIB_SRC = $(wildcard lib/*.c) $(KERNEL_SRC)
LIB_OBJ = $(patsubst %.c,$(O)/%.o,$(LIB_SRC))
LIB_A = $(O)/libsluice.a
# The programs' support code (options, messages, progress, outputs), apart
# from the library (doc/architecture.md).
PROG_SRC = $(wildcard programs/*.c)
PROG_OBJ = $(patsubst %.c,$(O)/%.o,$(PROG_SRC))
PROG_A = $(O)/libsluice-programs.a

# tools/list is the one list of the tools: their names, what each links
# beyond the base libraries, and the dispatcher's line for each.
TOOLS := $(shell sed -n 's/^\([a-z][a-z0-9-]*\)[[:space:]].*/\1/p' tools/list)
BINS = $(O)/bin/sluice $(TOOLS:%=$(O)/bin/sluice-%)
# The libraries tool $(1) links: the base ones and those its line names.
tool_libs = $(foreach l,$(subst $(comma), ,$(shell awk '$$1 == "$(1)" { print $$2 }' tools/list)),\
	$(if $(filter pcre2,$(l)),$(PCRE2_LIBS))$(if $(filter blas,$(l)),$(BLAS_LIBS))$(if $(filter omp,$(l)),-fopenmp)$(if $(filter mpi,$(l)),$(MPI_LIBS))) \
	$(BASE_LIBS)
comma := ,

UNIT_SRC = $(wildcard tests/unit/test_*.c)
UNIT_BINS = $(UNIT_SRC:tests/unit/%.c=$(O)/tests/%)
FUZZ_SRC = $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_REPLAY = $(FUZZ_SRC:tests/fuzz/%.c=$(O)/tests/replay_%)
BENCH_BINS = $(patsubst bench/%.c,$(O)/bench/%,$(wildcard bench/*.c))
# The recipes' own programs (pipelines/*.c: the task generator).
PIPE_BINS = $(patsubst pipelines/%.c,$(O)/pipelines/%,$(wildcard pipelines/*.c))

all: $(BINS) $(PIPE_BINS)

$(O)/config.mk: scripts/deps.sh
	@CC="$(CC)" scripts/deps.sh $@

# The flags in use: objects are rebuilt when they change (make check after
# make rebuilds with -Werror).
$(O)/cflags: FORCE | $(O)/config.mk
	@mkdir -p $(@D)
	@echo '$(CC) $(ALL_CFLAGS) $(KERNEL_CFLAGS) $(LDFLAGS)' | cmp -s - $@ || \
		echo '$(CC) $(ALL_CFLAGS) $(KERNEL_CFLAGS) $(LDFLAGS)' >$@

$(O)/lib/%.o: lib/%.c $(O)/cflags
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(DEPFLAGS) -c $< -o $@

$(O)/kernels/%.o: kernels/%.c $(O)/cflags
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(KERNEL_CFLAGS) $(DEPFLAGS) -c $< -o $@

$(LIB_A): $(LIB_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

$(O)/programs/%.o: programs/%.c $(O)/cflags
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(PROG_CFLAGS) $(DEPFLAGS) -c $< -o $@

$(PROG_A): $(PROG_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

# Data-parallel training over MPI: sluice-train-step is built with MPI when
# pkg-config finds one (Debian: libopenmpi-dev; mpirun from openmpi-bin),
# else without, saying so; MPI=0 builds without.  `make mpi` installs
# OpenMPI when run as root.  The stamp rebuilds it when that changes; the
# tools whose line in tools/list names mpi compile and link with it.
MPI ?= $(shell pkg-config --exists mpi-c 2>/dev/null && echo 1 || echo 0)
ifeq ($(MPI),1)
MPI_CFLAGS = -DSLUICE_MPI $(patsubst -I%,-isystem %,$(shell pkg-config --cflags mpi-c))
MPI_LIBS = $(shell pkg-config --libs mpi-c)
endif
$(O)/mpi-$(MPI).stamp:
	@mkdir -p $(@D)
	@rm -f $(O)/mpi-*.stamp
	@$(if $(filter 1,$(MPI)),:,echo "note: no MPI found (Debian: libopenmpi-dev openmpi-bin, or make mpi as root):" \
		"sluice-train-step is built without data-parallel training")
	@touch $@
MPI_TOOLS := $(shell awk '/^[a-z]/ && $$2 ~ /(^|,)mpi(,|$$)/ { print $$1 }' tools/list)
$(MPI_TOOLS:%=$(O)/tools/%.o): PROG_CFLAGS += $(MPI_CFLAGS)
$(MPI_TOOLS:%=$(O)/tools/%.o): $(O)/mpi-$(MPI).stamp

# The NCCL sum of data-parallel training on CUDA devices
# (programs/gpu/comm_nccl.c), and its test, built where the CUDA toolkit
# on the PATH holds NCCL (CUDA_HOME: the directory above nvcc's bin/);
# NCCL=0 leaves them out.  The test runs only where a device is found.
CUDA_HOME ?= $(patsubst %/bin/nvcc,%,$(shell command -v nvcc 2>/dev/null))
NCCL ?= $(if $(and $(CUDA_HOME),$(wildcard $(CUDA_HOME)/include/nccl.h),$(wildcard $(CUDA_HOME)/lib64/libnccl.so*)),1,0)
ifeq ($(NCCL),1)
NCCL_CFLAGS = -isystem $(CUDA_HOME)/include
NCCL_LIBS = -L$(CUDA_HOME)/lib64 -Wl,-rpath,$(CUDA_HOME)/lib64 -lnccl -lcublas -lcudart
GPU_BINS = $(O)/tests/test_nccl
endif

$(O)/programs/gpu/%.o: programs/gpu/%.c $(O)/cflags
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(PROG_CFLAGS) $(NCCL_CFLAGS) $(DEPFLAGS) -c $< -o $@

$(O)/tests/test_nccl: tests/gpu/test_nccl.c tests/unit/check.h $(O)/programs/gpu/comm_nccl.o $(LIB_A)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(PROG_CFLAGS) -Iprograms/gpu -Itests/unit $(NCCL_CFLAGS) $(DEPFLAGS) $(LDFLAGS) $< \
		$(O)/programs/gpu/comm_nccl.o $(LIB_A) $(NCCL_LIBS) $(ALL_LIBS) -o $@

mpi:
	@scripts/need.sh mpicc libopenmpi-dev && scripts/need.sh mpirun openmpi-bin
	@$(MAKE) --no-print-directory all

# The dispatcher's table of tools, from tools/list (whose lines hold no
# quotes or backslashes: make check-lists says so).
$(O)/gen/tools.h: tools/list
	@mkdir -p $(@D)
	awk '/^[a-z]/ { name = $$1; $$1 = $$2 = ""; sub(/^ +/, ""); printf "\t{ \"%s\", \"%s\" },\n", name, $$0 }' \
		$< >$@

$(O)/tools/%.o: tools/%.c $(O)/cflags
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(PROG_CFLAGS) $(DEPFLAGS) -c $< -o $@

$(O)/tools/sluice.o: tools/sluice.c $(O)/gen/tools.h $(O)/cflags
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(PROG_CFLAGS) -I$(O)/gen $(DEPFLAGS) -c $< -o $@

# Each tool links only the libraries its line in tools/list names (the
# dispatcher, the base ones).
$(O)/bin/sluice: $(O)/tools/sluice.o $(PROG_A) $(LIB_A)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) $< $(PROG_A) $(LIB_A) $(BASE_LIBS) -o $@

$(O)/bin/sluice-%: $(O)/tools/%.o $(PROG_A) $(LIB_A) tools/list
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) $< $(PROG_A) $(LIB_A) $(call tool_libs,$*) -o $@

$(O)/tests/test_%: tests/unit/test_%.c tests/unit/check.h $(PROG_A) $(LIB_A)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(PROG_CFLAGS) $(DEPFLAGS) $(LDFLAGS) $< $(PROG_A) $(LIB_A) $(ALL_LIBS) -o $@

# The library's own test links the library alone, as a program that is not
# a sluice tool would.
$(O)/tests/test_library: tests/unit/test_library.c tests/unit/check.h $(LIB_A)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(DEPFLAGS) $(LDFLAGS) $< $(LIB_A) $(ALL_LIBS) -o $@

# The gradient check builds the model and its kernels in double precision.
$(O)/tests/test_gradcheck: tests/unit/test_gradcheck.c tests/unit/check.h lib/model.c lib/rng.c lib/util.c $(KERNEL_SRC) \
		$(wildcard lib/*.h kernels/*.h) $(O)/cflags
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -DSLUICE_REAL_DOUBLE $(LDFLAGS) $< lib/model.c lib/rng.c lib/util.c $(KERNEL_SRC) $(ALL_LIBS) -o $@

# So does the RL objectives' check, with a stand-in optimizer of its own.
$(O)/tests/test_rl: tests/unit/test_rl.c tests/unit/check.h lib/rl.c lib/model.c lib/rng.c lib/util.c $(KERNEL_SRC) \
		$(wildcard lib/*.h kernels/*.h) $(O)/cflags
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -DSLUICE_REAL_DOUBLE $(LDFLAGS) $< lib/rl.c lib/model.c lib/rng.c lib/util.c $(KERNEL_SRC) \
		$(ALL_LIBS) -o $@

# Fuzz targets built with a plain main() that replays files, for the tests.
$(O)/tests/replay_%: tests/fuzz/%.c tests/fuzz/replay.c $(PROG_A) $(LIB_A)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(PROG_CFLAGS) $(DEPFLAGS) $(LDFLAGS) $< tests/fuzz/replay.c $(PROG_A) $(LIB_A) $(ALL_LIBS) -o $@

$(O)/pipelines/%: pipelines/%.c $(PROG_A) $(LIB_A)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(PROG_CFLAGS) $(DEPFLAGS) $(LDFLAGS) $< $(PROG_A) $(LIB_A) $(ALL_LIBS) -o $@

$(O)/bench/%: bench/%.c $(PROG_A) $(LIB_A)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(PROG_CFLAGS) $(DEPFLAGS) $(LDFLAGS) $< $(PROG_A) $(LIB_A) $(ALL_LIBS) -o $@

# Programs the CLI tests call (not tests themselves).
HELPER_BINS = $(patsubst tests/helpers/%.c,$(O)/tests/helpers/%,$(wildcard tests/helpers/*.c))
$(O)/tests/helpers/%: tests/helpers/%.c $(PROG_A) $(LIB_A)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(PROG_CFLAGS) $(DEPFLAGS) $(LDFLAGS) $< $(PROG_A) $(LIB_A) $(ALL_LIBS) -o $@

# The benchmarks are built (not run) with the tests, so every one keeps
# compiling.
test: all $(UNIT_BINS) $(GPU_BINS) $(FUZZ_REPLAY) $(HELPER_BINS) $(BENCH_BINS) check-lists check-layers
	@O=$(O) tests/run.sh

# The tests with warnings as errors: what CI runs.
check:
	@$(MAKE) --no-print-directory WERROR=-Werror test

# tools/list, tools/*.c and man/ name the same tools.
check-lists:
	@scripts/check-lists.sh

# No layer includes a higher one; the library never prints or exits
# (doc/architecture.md).
check-layers:
	@scripts/check-layers.sh

# Coverage-guided fuzzing with libFuzzer (clang): FUZZ_TIME seconds a target.
FUZZ_TIME ?= 60
FUZZ_CC ?= clang
fuzz: | $(O)/config.mk
	@command -v $(FUZZ_CC) >/dev/null || { echo "fuzz: $(FUZZ_CC) not found (Debian: clang)"; exit 1; }
	@mkdir -p $(O)/fuzz
	@set -e; for src in $(FUZZ_SRC); do \
		t=$$(basename $$src .c); \
		$(FUZZ_CC) -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -g -O1 -Ilib -Ikernels -fopenmp \
			$(PKG_CFLAGS) $(BLAS_CFLAGS) \
			-fsanitize=fuzzer,address,undefined $$src $(LIB_SRC) $(ALL_LIBS) -o $(O)/fuzz/$$t; \
		mkdir -p $(O)/fuzz/$$t.corpus; \
		echo "fuzz: $$t for $(FUZZ_TIME)s"; \
		$(O)/fuzz/$$t -max_total_time=$(FUZZ_TIME) -max_len=65536 -print_final_stats=0 \
			$(O)/fuzz/$$t.corpus tests/fuzz/corpus/$$t 2>$(O)/fuzz/$$t.log || \
			{ tail -40 $(O)/fuzz/$$t.log; exit 1; }; \
		tail -1 $(O)/fuzz/$$t.log; \
	done

# Every bench/*.sh, or one: make bench BENCH=stream.
BENCH ?= $(patsubst bench/%.sh,%,$(wildcard bench/*.sh))
bench: all $(BENCH_BINS)
	@set -e; for b in $(BENCH); do O=$(O) bench/$$b.sh; done

demo: all
	@$(MAKE) --no-print-directory -C pipelines demo O=$(abspath $(O))

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5
	install -m 755 $(BINS) $(DESTDIR)$(BINDIR)
	install -m 644 man/*.1 $(DESTDIR)$(MANDIR)/man1
	install -m 644 man/*.5 $(DESTDIR)$(MANDIR)/man5
	install -d $(DESTDIR)$(DATADIR)/vocab
	install -m 644 vocab/*.tiktoken vocab/*.json $(DESTDIR)$(DATADIR)/vocab

uninstall:
	rm -f $(patsubst $(O)/bin/%,$(DESTDIR)$(BINDIR)/%,$(BINS))
	rm -f $(patsubst man/%,$(DESTDIR)$(MANDIR)/man1/%,$(wildcard man/*.1))
	rm -f $(patsubst man/%,$(DESTDIR)$(MANDIR)/man5/%,$(wildcard man/*.5))
	rm -rf $(DESTDIR)$(DATADIR)

clean:
	rm -rf build build-asan build-clang

# Header dependencies of everything built, as the compiler found them.
-include $(shell find $(O) -name '*.d' 2>/dev/null)

FORCE:
.PHONY: all test check check-lists check-layers fuzz bench demo install uninstall clean mpi FORCE
.DELETE_ON_ERROR:
