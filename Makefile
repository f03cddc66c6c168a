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
# The kernels' loops vectorize at -O3; sqrtf only without errno.
KERNEL_CFLAGS ?= -O3 -fno-math-errno
endif

CC ?= cc
PREFIX ?= /usr/local
BINDIR = $(PREFIX)/bin
MANDIR = $(PREFIX)/share/man
DATADIR = $(PREFIX)/share/sluice

# Flags from pkg-config, written by scripts/deps.sh (which installs missing
# Debian packages when run as root, and otherwise names them).
-include $(O)/config.mk

# -ffp-contract=off: no fused multiply-adds the source does not write (gcc
# already so in ISO C mode; clang not), so results do not depend on the compiler.
ALL_CFLAGS = -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -ffp-contract=off -Wall -Wextra -Werror \
	-Ilib -Ikernels -fopenmp $(PKG_CFLAGS) $(BLAS_CFLAGS) $(CFLAGS)
ALL_LIBS = $(PKG_LIBS) $(PCRE2_LIBS) $(BLAS_LIBS) -fopenmp -lpthread -lm

KERNEL_SRC = $(wildcard kernels/*.c)
LIB_SRC = $(wildcard lib/*.c) $(KERNEL_SRC)
LIB_OBJ = $(patsubst %.c,$(O)/%.o,$(LIB_SRC))
LIB_A = $(O)/libsluice.a

TOOLS = $(patsubst tools/%.c,%,$(wildcard tools/*.c))
BINS = $(patsubst %,$(O)/bin/%,$(filter sluice,$(TOOLS))) \
       $(patsubst %,$(O)/bin/sluice-%,$(filter-out sluice,$(TOOLS)))

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

$(O)/lib/%.o: lib/%.c $(wildcard lib/*.h kernels/*.h) | $(O)/config.mk
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(O)/kernels/%.o: kernels/%.c $(wildcard kernels/*.h) | $(O)/config.mk
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(KERNEL_CFLAGS) -c $< -o $@

$(LIB_A): $(LIB_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

$(O)/bin/sluice: tools/sluice.c $(LIB_A)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) $< $(LIB_A) $(ALL_LIBS) -o $@

$(O)/bin/sluice-%: tools/%.c $(LIB_A)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) $< $(LIB_A) $(ALL_LIBS) -o $@

# Data-parallel training over MPI: sluice-train-step is built with MPI when
# pkg-config finds one (Debian: libopenmpi-dev; mpirun from openmpi-bin),
# else without, saying so; MPI=0 builds without.  `make mpi` installs
# OpenMPI when run as root.  The stamp rebuilds it when that changes.
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

$(O)/bin/sluice-train-step: tools/train-step.c $(LIB_A) $(O)/mpi-$(MPI).stamp
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(MPI_CFLAGS) $(LDFLAGS) $< $(LIB_A) $(MPI_LIBS) $(ALL_LIBS) -o $@

mpi:
	@scripts/need.sh mpicc libopenmpi-dev && scripts/need.sh mpirun openmpi-bin
	@$(MAKE) --no-print-directory all

$(O)/tests/test_%: tests/unit/test_%.c tests/unit/check.h $(LIB_A)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) $< $(LIB_A) $(ALL_LIBS) -o $@

# The gradient check builds the model and its kernels in double precision.
$(O)/tests/test_gradcheck: tests/unit/test_gradcheck.c tests/unit/check.h lib/model.c lib/rng.c lib/util.c $(KERNEL_SRC) \
		$(wildcard lib/*.h kernels/*.h) | $(O)/config.mk
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -DSLUICE_REAL_DOUBLE $(LDFLAGS) $< lib/model.c lib/rng.c lib/util.c $(KERNEL_SRC) $(ALL_LIBS) -o $@

# So does the RL objectives' check, with a stand-in optimizer of its own.
$(O)/tests/test_rl: tests/unit/test_rl.c tests/unit/check.h lib/rl.c lib/model.c lib/rng.c lib/util.c $(KERNEL_SRC) \
		$(wildcard lib/*.h kernels/*.h) | $(O)/config.mk
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -DSLUICE_REAL_DOUBLE $(LDFLAGS) $< lib/rl.c lib/model.c lib/rng.c lib/util.c $(KERNEL_SRC) \
		$(ALL_LIBS) -o $@

# Fuzz targets built with a plain main() that replays files, for the tests.
$(O)/tests/replay_%: tests/fuzz/%.c tests/fuzz/replay.c $(LIB_A)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) $< tests/fuzz/replay.c $(LIB_A) $(ALL_LIBS) -o $@

$(O)/pipelines/%: pipelines/%.c $(LIB_A)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) $< $(LIB_A) $(ALL_LIBS) -o $@

$(O)/bench/%: bench/%.c $(LIB_A)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) $< $(LIB_A) $(ALL_LIBS) -o $@

# Programs the CLI tests call (not tests themselves).
HELPER_BINS = $(patsubst tests/helpers/%.c,$(O)/tests/helpers/%,$(wildcard tests/helpers/*.c))
$(O)/tests/helpers/%: tests/helpers/%.c $(LIB_A)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) $< $(LIB_A) $(ALL_LIBS) -o $@

# The benchmarks are built (not run) with the tests, so every one keeps
# compiling.
test: all $(UNIT_BINS) $(FUZZ_REPLAY) $(HELPER_BINS) $(BENCH_BINS)
	@O=$(O) tests/run.sh

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

.PHONY: all test fuzz bench demo install uninstall clean mpi
.DELETE_ON_ERROR:
