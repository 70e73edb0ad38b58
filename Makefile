# sbx — one entry point: build, check, install, clean.
#
#   make                      build/sbx and build/sbx-runner
#   make check                install missing test dependencies, build, run every test
#   make install              PREFIX (default /usr/local) and DESTDIR are honoured
#   make clean
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
CORE_SRC := src/err.c src/frame.c src/proto.c src/conn.c src/winargv.c src/wtf8.c src/os_posix.c
CLI_SRC  := cli/main.c cli/session.c
RUN_SRC  := runner/main.c runner/pump.c
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

.PHONY: all check unit integration install uninstall clean deps deps-test
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

unit: $(B)/test/unit
	$(B)/test/unit

integration: all $(B)/test/integration $(B)/test/sbx-testhelper
	SBX=$(abspath $(B)/sbx) SBX_TESTHELPER=$(abspath $(B)/test/sbx-testhelper) \
	    $(B)/test/integration

check: $(B)/.deps-test
	$(MAKE) --no-print-directory all $(B)/test/unit $(B)/test/integration $(B)/test/sbx-testhelper
	$(MAKE) --no-print-directory unit
	$(MAKE) --no-print-directory integration

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

-include $(wildcard $(B)/obj/*/*.d $(B)/obj/*/*/*.d)
