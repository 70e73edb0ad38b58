# sbx — one entry point: build, check, install, clean.
#
#   make                      build/sbx and build/sbx-runner
#   make check                install missing test dependencies, build, run every test
#   make check SANITIZE=1     the same, Linux programs built with ASan and UBSan
#                             in build/san; any sanitizer report fails it
#   make check-linux          the Linux tests alone (no mingw-w64, no Wine)
#   make install              PREFIX (default /usr/local) and DESTDIR are honoured
#   make clean
#   make win                  Windows programs with mingw-w64 (docs/windows.md)
#   make bench                startup, throughput, memory and concurrency figures
#   make fuzz                 libFuzzer harnesses in build/fuzz (clang)
#   make fuzz-run             each harness FUZZ_SECONDS (60); fails on any finding
#   WERROR=1                  make warnings fatal (CI sets it)
#   SANITIZE=1                AddressSanitizer (leaks included) and UBSan
#   CJSON=system              link the shared libcjson instead of compiling
#                             cJSON in from the distribution's sources

VERSION    := 0.1.0
PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
LIBEXECDIR ?= $(PREFIX)/libexec
MANDIR     ?= $(PREFIX)/share/man

CC       ?= cc
CSTD     := -std=c11
OPT      ?= -O2 -g
WARN     := -Wall -Wextra -Wshadow -Wpointer-arith -Wwrite-strings \
            -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 -Wvla
ifeq ($(WERROR),1)
WARN     += -Werror
endif
DEFS     := -D_GNU_SOURCE -DSBX_VERSION=\"$(VERSION)\"

# Recursively expanded on purpose: the deps stamp below may install the
# packages, so pkg-config must be asked when a recipe runs, not when the
# Makefile is read.
CJSON_CFLAGS = $(shell pkg-config --cflags libcjson)
CJSON_LIBS   = $(shell pkg-config --libs libcjson)
CRIT_CFLAGS  = $(shell pkg-config --cflags criterion)
CRIT_LIBS    = $(shell pkg-config --libs criterion)

# cJSON is compiled into sbx and sbx-runner (and the unit tests, through
# libsbx.a) from the distribution's own cjson source package, its patches
# applied (.ci/cjson-src.sh, into build/cjson, fetched once for every build
# directory and for `make win`): one shared library fewer for the dynamic
# loader to find, map and relocate in both processes of every run.  glibc
# stays dynamic: the runner resolves accounts through NSS, whose modules a
# static glibc cannot load.  When the sources cannot be had (offline, no
# apt-get), the shared libcjson is linked instead, with a note; remove
# build/cjson to try again.  CJSON=system links the shared one without
# trying.  The fuzz harnesses (test/fuzz/fuzz.mk) always take the shared
# one, through CJSON_CFLAGS and CJSON_LIBS.
CJSON     ?= source
CJSON_DIR := build/cjson
ifeq ($(CJSON),system)
CJSON_STAMP :=
cjson_mode   = system
else
CJSON_STAMP := $(CJSON_DIR)/mode
cjson_mode   = $(shell cat $(CJSON_STAMP) 2>/dev/null)
endif
SBX_CJSON_CFLAGS = $(if $(filter source,$(cjson_mode)),-I$(CJSON_DIR),$(CJSON_CFLAGS))
SBX_CJSON_LIBS   = $(if $(filter source,$(cjson_mode)),,$(CJSON_LIBS))

# SANITIZE=1 builds into a directory of its own, so sanitized and plain
# objects never meet; the Windows programs (mingw, not sanitized) stay in
# build/win either way.
ifeq ($(SANITIZE),1)
B        := build/san
WB       := build/win
SAN      := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
OPT      := -O1 -g
else
B        := build
WB       := $(B)/win
SAN      :=
endif

# The portable core is every .c file in src/; the platform layer is one
# directory per platform behind src/os.h (src/posix, src/win).  Each list is
# written once: the core becomes one archive per platform that sbx,
# sbx-runner and the tests link.
COMMON_SRC := $(wildcard src/*.c)
POSIX_SRC  := $(wildcard src/posix/*.c)
WIN_SRC    := $(wildcard src/win/*.c)
CLI_SRC    := $(wildcard cli/*.c)
RUN_SRC    := $(wildcard runner/*.c)
UNIT_SRC   := $(wildcard test/unit/*.c)
INTEG_SRC  := $(wildcard test/integration/*.c)
HELPERS    := sbx-testhelper sbx-fakerunner

obj = $(patsubst %.c,$(1)/obj/%.o,$(2))
CORE_LIB := $(B)/libsbx.a
HELPER_BIN := $(HELPERS:%=$(B)/test/%)

ALL_CFLAGS = $(CSTD) $(OPT) $(WARN) $(SAN) $(DEFS) -Isrc $(SBX_CJSON_CFLAGS) $(CPPFLAGS) $(CFLAGS)
TEST_CFLAGS = $(ALL_CFLAGS) $(CRIT_CFLAGS)
ALL_LDFLAGS = $(SAN) $(LDFLAGS)

.PHONY: all check check-linux unit integration install uninstall clean deps deps-test win bench
.DELETE_ON_ERROR:

all: $(B)/sbx $(B)/sbx-runner

# The stamps make `make` install what is missing on Debian/Ubuntu (and say
# exactly what to install elsewhere) before the first compile.
$(B)/.deps-build: .ci/deps.sh
	@mkdir -p $(B)
	@sh .ci/deps.sh build
	@touch $@
$(B)/.deps-test: .ci/deps.sh
	@mkdir -p $(B)
	@sh .ci/deps.sh test
	@touch $@
deps: $(B)/.deps-build
deps-test: $(B)/.deps-test

# Which cJSON: "source" once build/cjson holds the patched sources, else
# "system".  Every object depends on it (the header comes from there).
$(CJSON_DIR)/mode: .ci/cjson-src.sh | $(B)/.deps-build
	@mkdir -p $(CJSON_DIR)
	@if sh .ci/cjson-src.sh $(CJSON_DIR) 2>$(CJSON_DIR)/fetch.log; then \
	    cat $(CJSON_DIR)/fetch.log >&2; echo source >$@; \
	else \
	    echo "sbx: cJSON's sources could not be had (see $(CJSON_DIR)/fetch.log): linking the shared libcjson" >&2; \
	    echo system >$@; \
	fi

# With the shared libcjson, an empty object, so that the archive's recipe
# stays the same either way.
$(B)/obj/cjson/cJSON.o: $(CJSON_STAMP) | $(B)/.deps-build
	@mkdir -p $(dir $@)
	$(if $(filter source,$(cjson_mode)),$(CC) $(CSTD) $(OPT) $(SAN) -w -c -o $@ $(CJSON_DIR)/cJSON.c,\
	    printf '' | $(CC) -x c -c -o $@ -)

$(B)/obj/%.o: %.c $(CJSON_STAMP) | $(B)/.deps-build
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

$(B)/obj/test/%.o: test/%.c $(CJSON_STAMP) | $(B)/.deps-test
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) -MMD -MP -c -o $@ $<

$(CORE_LIB): $(call obj,$(B),$(COMMON_SRC) $(POSIX_SRC)) $(B)/obj/cjson/cJSON.o
	rm -f $@ && $(AR) rcs $@ $^

$(B)/sbx: $(call obj,$(B),$(CLI_SRC)) $(CORE_LIB)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(SBX_CJSON_LIBS)

$(B)/sbx-runner: $(call obj,$(B),$(RUN_SRC)) $(CORE_LIB)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(SBX_CJSON_LIBS)

$(B)/test/unit: $(call obj,$(B),$(UNIT_SRC)) $(CORE_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(CRIT_LIBS) $(SBX_CJSON_LIBS)

$(B)/test/integration: $(call obj,$(B),$(INTEG_SRC))
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(CRIT_LIBS)

# The helper programs are one file each, with the tests' flags.
$(B)/test/sbx-%: test/helper/sbx-%.c | $(B)/.deps-test
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) $(LDFLAGS) -o $@ $<

# ---- Windows ----------------------------------------------------------------
# Cross-built with mingw-w64 on Debian/Ubuntu: cJSON for the target comes
# from the distribution's cjson source package, its patches applied (fetched
# by .ci/cjson-src.sh into build/cjson, as for Linux), never from this tree.  Natively on Windows with
# MSYS2: make win WIN_CC=gcc WIN_CJSON=system takes MSYS2's cjson package.
WIN_CC    ?= x86_64-w64-mingw32-gcc
# The archiver beside WIN_CC (x86_64-w64-mingw32-ar, or ar for MSYS2's gcc).
WIN_AR    ?= $(patsubst %gcc,%ar,$(WIN_CC))
WIN_CJSON ?= source
ifeq ($(WIN_CJSON),system)
WIN_CJSON_CFLAGS = $(shell pkg-config --cflags libcjson)
WIN_CJSON_LIBS   = $(shell pkg-config --static --libs libcjson)
WIN_CJSON_OBJ    :=
WIN_PREP         :=
else
WIN_CJSON_CFLAGS := -I$(CJSON_DIR)
WIN_CJSON_LIBS   :=
WIN_CJSON_OBJ    := $(WB)/obj/cjson/cJSON.o
WIN_PREP         := $(WB)/.cjson-src
endif
WIN_CFLAGS = $(CSTD) -O2 $(WARN) -D__USE_MINGW_ANSI_STDIO=1 -D_WIN32_WINNT=0x0602 \
             -DSBX_VERSION=\"$(VERSION)\" -Isrc $(WIN_CJSON_CFLAGS)
# Static: the .exe files run on any Windows without mingw's DLLs.
WIN_LDFLAGS := -static
WIN_LIBS   = $(WIN_CJSON_LIBS) -lbcrypt -ladvapi32 -lshell32 -lole32
WIN_LIB    := $(WB)/libsbx.a

win: $(WB)/sbx.exe $(WB)/sbx-runner.exe $(WB)/sbx-testhelper.exe $(WB)/sbx-wintest.exe

$(B)/.deps-win: .ci/deps.sh
	@mkdir -p $(B)
	@sh .ci/deps.sh win
	@touch $@

# Windows has no shared libcjson to fall back on: without the sources,
# stop here, saying so.
$(WB)/.cjson-src: $(CJSON_DIR)/mode | $(B)/.deps-win
	@[ -f $(CJSON_DIR)/VERSION ] || { echo "sbx: make win needs cJSON's sources, which could not be had" \
	    "(see $(CJSON_DIR)/fetch.log; remove $(CJSON_DIR) to try again)" >&2; exit 1; }
	@mkdir -p $(dir $@) && touch $@

$(WB)/obj/cjson/cJSON.o: $(WIN_PREP)
	@mkdir -p $(dir $@)
	$(WIN_CC) $(CSTD) -O2 -w -c -o $@ $(CJSON_DIR)/cJSON.c

$(WB)/obj/%.o: %.c $(WIN_PREP)
	@mkdir -p $(dir $@)
	$(WIN_CC) $(WIN_CFLAGS) -MMD -MP -c -o $@ $<

$(WIN_LIB): $(call obj,$(WB),$(COMMON_SRC) $(WIN_SRC)) $(WIN_CJSON_OBJ)
	rm -f $@ && $(WIN_AR) rcs $@ $^

$(WB)/sbx.exe: $(call obj,$(WB),$(CLI_SRC)) $(WIN_LIB)
	$(WIN_CC) $(WIN_LDFLAGS) -o $@ $^ $(WIN_LIBS)

$(WB)/sbx-runner.exe: $(call obj,$(WB),$(RUN_SRC)) $(WIN_LIB)
	$(WIN_CC) $(WIN_LDFLAGS) -o $@ $^ $(WIN_LIBS)

$(WB)/sbx-wintest.exe: $(WB)/obj/test/helper/sbx-wintest.o $(WIN_LIB)
	$(WIN_CC) $(WIN_LDFLAGS) -o $@ $^ $(WIN_LIBS)

# wmain is the -municode entry point, which no mingw header declares.
$(WB)/sbx-testhelper.exe: test/helper/sbx-testhelper-win.c $(WIN_PREP)
	@mkdir -p $(dir $@)
	$(WIN_CC) $(WIN_CFLAGS) -Wno-missing-prototypes -municode $(WIN_LDFLAGS) -o $@ $<

# --verbose lists every test, so a skipped one shows as [SKIP] with its
# reason.  .ci/tests.sh passes Criterion's output through as it comes, keeps
# a copy for the summary, and under SANITIZE=1 fails on any sanitizer report
# of any process the tests started.
TESTS_RUN = SBX_SANITIZE=$(SANITIZE) sh .ci/tests.sh run
unit: $(B)/test/unit
	@$(TESTS_RUN) $(B)/test/unit.log $(B)/test/unit --verbose

WINEPREFIX_DIR := $(abspath $(dir $(WB))wineprefix)

# The Windows tests run only when `make win` has built the .exe files; they
# report themselves as skipped otherwise.  A first Wine start creates its
# prefix, which takes a while, so it happens here rather than inside a test.
# WIN_TESTS=0 turns them off (make check-linux).
WIN_TESTS ?= 1
IT_WIN_DIR = $(if $(filter 0,$(WIN_TESTS)),none,$(abspath $(WB)))
integration: all $(B)/test/integration $(HELPER_BIN)
	@if [ "$(WIN_TESTS)" != 0 ] && [ -f $(WB)/sbx.exe ] && command -v wine >/dev/null 2>&1; then \
	    echo "preparing the Wine prefix in $(WINEPREFIX_DIR)"; \
	    WINEPREFIX=$(WINEPREFIX_DIR) WINEDEBUG=-all timeout 300 wine cmd /c exit >/dev/null 2>&1 || true; \
	fi
	@SBX=$(abspath $(B)/sbx) SBX_TESTHELPER=$(abspath $(B)/test/sbx-testhelper) \
	    SBX_FAKERUNNER=$(abspath $(B)/test/sbx-fakerunner) SBX_WIN_DIR=$(IT_WIN_DIR) WINEPREFIX=$(WINEPREFIX_DIR) \
	    $(TESTS_RUN) $(B)/test/integration.log $(B)/test/integration --verbose

# Both test runs happen even when the first fails, then one summary: the
# counts, and every skipped test with its reason.
TESTS_SUMMARY = rc=0; \
	$(MAKE) --no-print-directory unit || rc=1; \
	$(MAKE) --no-print-directory integration || rc=1; \
	sh .ci/tests.sh summary $(B)/test/unit.log $(B)/test/integration.log; \
	exit $$rc

# Windows is cross-built (never sanitized: the .exe files are mingw's) and
# tested under Wine whenever mingw-w64 and Wine can be had (.ci/deps.sh win
# installs them on Debian/Ubuntu).
check: $(B)/.deps-test
	$(MAKE) --no-print-directory all $(B)/test/unit $(B)/test/integration $(HELPER_BIN)
	@if sh .ci/deps.sh win; then \
	    $(MAKE) --no-print-directory win SANITIZE= || exit 1; \
	else \
	    echo "sbx: no mingw-w64/Wine here: the Windows tests will report as skipped"; \
	fi
	@$(TESTS_SUMMARY)

# The Linux tests alone: nothing Windows is installed, built or run (the
# Windows tests report as skipped).
check-linux: $(B)/.deps-test
	$(MAKE) --no-print-directory all $(B)/test/unit $(B)/test/integration $(HELPER_BIN)
	@export WIN_TESTS=0; $(TESTS_SUMMARY)

# Figures, not tests: an optimised build in build/bench, one table
# (docs/performance.md explains every row).  BENCH_QUICK=1 for a short run.
bench:
	bash test/bench/run.sh

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBEXECDIR)/sbx $(DESTDIR)$(MANDIR)/man1
	install -m 0755 $(B)/sbx $(DESTDIR)$(BINDIR)/sbx
	install -m 0755 $(B)/sbx-runner $(DESTDIR)$(LIBEXECDIR)/sbx/sbx-runner
	install -m 0644 docs/sbx.1 $(DESTDIR)$(MANDIR)/man1/sbx.1

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/sbx $(DESTDIR)$(LIBEXECDIR)/sbx/sbx-runner \
	      $(DESTDIR)$(MANDIR)/man1/sbx.1
	-rmdir $(DESTDIR)$(LIBEXECDIR)/sbx

clean:
	rm -rf $(B)

-include $(wildcard $(B)/obj/*/*.d $(B)/obj/*/*/*.d $(WB)/obj/*/*.d $(WB)/obj/*/*/*.d)

include test/fuzz/fuzz.mk
