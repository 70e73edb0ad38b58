# sbx — one entry point: build, check, install, clean.
#
#   make                      build/sbx and build/sbx-runner
#   make check                install missing test dependencies, build, run every test
#   make install              PREFIX (default /usr/local) and DESTDIR are honoured
#   make clean
#   make win                  Windows programs with mingw-w64 (docs/windows.md)
#   make bench                startup, throughput, memory and concurrency figures
#   make fuzz                 libFuzzer harnesses in build/fuzz (clang)
#   make fuzz-run             each harness FUZZ_SECONDS (60); fails on any finding
#   WERROR=1                  make warnings fatal (CI sets it)

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

B        := build
# The portable core is every .c file in src/; the platform layer is one
# directory per platform behind src/os.h (src/posix, src/win).
COMMON_SRC := $(wildcard src/*.c)
CORE_SRC := $(COMMON_SRC) $(wildcard src/posix/*.c)
CLI_SRC  := $(wildcard cli/*.c)
RUN_SRC  := $(wildcard runner/*.c)
UNIT_SRC := $(wildcard test/unit/*.c)
INTEG_SRC:= $(wildcard test/integration/*.c)

CORE_OBJ := $(CORE_SRC:%.c=$(B)/obj/%.o)
CLI_OBJ  := $(CLI_SRC:%.c=$(B)/obj/%.o)
RUN_OBJ  := $(RUN_SRC:%.c=$(B)/obj/%.o)
UNIT_OBJ := $(UNIT_SRC:%.c=$(B)/obj/%.o)
INTEG_OBJ:= $(INTEG_SRC:%.c=$(B)/obj/%.o)

ALL_CFLAGS = $(CSTD) $(OPT) $(WARN) $(DEFS) -Isrc $(CJSON_CFLAGS) $(CPPFLAGS) $(CFLAGS)
TEST_CFLAGS = $(CSTD) $(OPT) -Wall -Wextra $(if $(filter 1,$(WERROR)),-Werror) $(DEFS) \
              -Isrc $(CJSON_CFLAGS) $(CRIT_CFLAGS) $(CPPFLAGS) $(CFLAGS)

.PHONY: all check unit integration install uninstall clean deps deps-test win bench
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

$(B)/obj/%.o: %.c | $(B)/.deps-build
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

$(B)/obj/test/%.o: test/%.c | $(B)/.deps-test
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) -MMD -MP -c -o $@ $<

$(B)/sbx: $(CLI_OBJ) $(CORE_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(CJSON_LIBS)

$(B)/sbx-runner: $(RUN_OBJ) $(CORE_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(CJSON_LIBS)

$(B)/test/unit: $(UNIT_OBJ) $(CORE_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(CRIT_LIBS) $(CJSON_LIBS)

$(B)/test/integration: $(INTEG_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(CRIT_LIBS)

$(B)/test/sbx-testhelper: test/helper/sbx-testhelper.c
	@mkdir -p $(dir $@)
	$(CC) $(CSTD) $(OPT) -Wall -Wextra $(if $(filter 1,$(WERROR)),-Werror) -D_GNU_SOURCE -o $@ $<

$(B)/test/sbx-fakerunner: test/helper/sbx-fakerunner.c
	@mkdir -p $(dir $@)
	$(CC) $(CSTD) $(OPT) -Wall -Wextra $(if $(filter 1,$(WERROR)),-Werror) -D_GNU_SOURCE -o $@ $<

# ---- Windows ----------------------------------------------------------------
# Cross-built with mingw-w64 on Debian/Ubuntu: cJSON for the target comes
# from the distribution's cjson source package (fetched by .ci/cjson-src.sh
# into build/win/cjson), never from this tree.  Natively on Windows with
# MSYS2: make win WIN_CC=gcc WIN_CJSON=system takes MSYS2's cjson package.
WIN_CC    ?= x86_64-w64-mingw32-gcc
WIN_CJSON ?= source
WB        := $(B)/win
WIN_CORE  := $(COMMON_SRC) $(wildcard src/win/*.c)
ifeq ($(WIN_CJSON),system)
WIN_CJSON_CFLAGS = $(shell pkg-config --cflags libcjson)
WIN_CJSON_LIBS   = $(shell pkg-config --static --libs libcjson)
WIN_CJSON_OBJ    :=
WIN_PREP         :=
else
WIN_CJSON_CFLAGS := -I$(WB)/cjson
WIN_CJSON_LIBS   :=
WIN_CJSON_OBJ    := $(WB)/obj/cjson/cJSON.o
WIN_PREP         := $(WB)/cjson/cJSON.c
endif
WIN_CFLAGS = $(CSTD) -O2 $(WARN) -D__USE_MINGW_ANSI_STDIO=1 -D_WIN32_WINNT=0x0602 \
             -DSBX_VERSION=\"$(VERSION)\" -Isrc $(WIN_CJSON_CFLAGS)
# Static: the .exe files run on any Windows without mingw's DLLs.
WIN_LDFLAGS := -static
WIN_LIBS   = $(WIN_CJSON_LIBS) -lbcrypt -ladvapi32 -lshell32 -lole32
WIN_CORE_OBJ := $(WIN_CORE:%.c=$(WB)/obj/%.o) $(WIN_CJSON_OBJ)

win: $(WB)/sbx.exe $(WB)/sbx-runner.exe $(WB)/sbx-testhelper.exe $(WB)/sbx-wintest.exe

$(B)/.deps-win: .ci/deps.sh
	@mkdir -p $(B)
	@sh .ci/deps.sh win
	@touch $@

$(WB)/cjson/cJSON.c: .ci/cjson-src.sh | $(B)/.deps-win
	sh .ci/cjson-src.sh $(WB)/cjson
	@touch $@

$(WB)/obj/cjson/cJSON.o: $(WB)/cjson/cJSON.c
	@mkdir -p $(dir $@)
	$(WIN_CC) $(CSTD) -O2 -w -c -o $@ $<

$(WB)/obj/%.o: %.c $(WIN_PREP)
	@mkdir -p $(dir $@)
	$(WIN_CC) $(WIN_CFLAGS) -MMD -MP -c -o $@ $<

$(WB)/sbx.exe: $(CLI_SRC:%.c=$(WB)/obj/%.o) $(WIN_CORE_OBJ)
	$(WIN_CC) $(WIN_LDFLAGS) -o $@ $^ $(WIN_LIBS)

$(WB)/sbx-runner.exe: $(RUN_SRC:%.c=$(WB)/obj/%.o) $(WIN_CORE_OBJ)
	$(WIN_CC) $(WIN_LDFLAGS) -o $@ $^ $(WIN_LIBS)

$(WB)/sbx-wintest.exe: $(WB)/obj/test/helper/sbx-wintest.o $(WIN_CORE_OBJ)
	$(WIN_CC) $(WIN_LDFLAGS) -o $@ $^ $(WIN_LIBS)

$(WB)/sbx-testhelper.exe: test/helper/sbx-testhelper-win.c $(WIN_PREP)
	@mkdir -p $(dir $@)
	$(WIN_CC) $(CSTD) -O2 -Wall -Wextra $(if $(filter 1,$(WERROR)),-Werror) -municode \
	    -D__USE_MINGW_ANSI_STDIO=1 $(WIN_LDFLAGS) -o $@ $<

# --verbose lists every test, so a skipped one shows as [SKIP] with its reason.
unit: $(B)/test/unit
	$(B)/test/unit --verbose

WINEPREFIX_DIR := $(abspath $(B)/wineprefix)

# The Windows tests run only when `make win` has built the .exe files; they
# report themselves as skipped otherwise.  A first Wine start creates its
# prefix, which takes a while, so it happens here rather than inside a test.
integration: all $(B)/test/integration $(B)/test/sbx-testhelper $(B)/test/sbx-fakerunner
	@if [ -f $(WB)/sbx.exe ] && command -v wine >/dev/null 2>&1; then \
	    echo "preparing the Wine prefix in $(WINEPREFIX_DIR)"; \
	    WINEPREFIX=$(WINEPREFIX_DIR) WINEDEBUG=-all timeout 300 wine cmd /c exit >/dev/null 2>&1 || true; \
	fi
	SBX=$(abspath $(B)/sbx) SBX_TESTHELPER=$(abspath $(B)/test/sbx-testhelper) \
	    SBX_FAKERUNNER=$(abspath $(B)/test/sbx-fakerunner) SBX_WIN_DIR=$(abspath $(WB)) WINEPREFIX=$(WINEPREFIX_DIR) \
	    $(B)/test/integration --verbose

# Windows is cross-built and tested under Wine whenever mingw-w64 and Wine
# can be had (.ci/deps.sh win installs them on Debian/Ubuntu).
check: $(B)/.deps-test
	$(MAKE) --no-print-directory all $(B)/test/unit $(B)/test/integration \
	    $(B)/test/sbx-testhelper $(B)/test/sbx-fakerunner
	@if sh .ci/deps.sh win; then \
	    $(MAKE) --no-print-directory win || exit 1; \
	else \
	    echo "sbx: no mingw-w64/Wine here: the Windows tests will report as skipped"; \
	fi
	$(MAKE) --no-print-directory unit
	$(MAKE) --no-print-directory integration

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
