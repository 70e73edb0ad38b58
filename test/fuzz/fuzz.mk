# libFuzzer harnesses for the parsers (test/fuzz/README.md).  Included at the
# end of the top-level Makefile, so B, WARN and the cJSON flags are the ones
# the rest of the build uses; `make B=build-x fuzz` builds under build-x.
#
#   make fuzz                 build/fuzz/fuzz_* and their seed corpora
#   make fuzz-run             run each harness FUZZ_SECONDS (default 60) on a
#                             scratch copy of its seeds; fails on any crash,
#                             leak, timeout, out-of-memory or sanitizer report
#   FUZZ_ARGS=...             extra libFuzzer flags for fuzz-run
#   FUZZ_CC=clang-15          another clang

B            ?= build
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_ARGS    ?=
# Installs clang and its sanitizer/libFuzzer runtimes where they are missing.
FUZZ_DEPS    ?= sh .ci/deps.sh fuzz

FB := $(B)/fuzz
FUZZ_HARNESSES := fuzz_frame fuzz_rules fuzz_spawn fuzz_msg fuzz_winargv fuzz_wtf8

# The sources each harness links, compiled again here with coverage and
# sanitizer instrumentation (the objects in $(B)/obj have neither).
FUZZ_SRC_fuzz_frame   := src/frame.c src/proto.c src/json.c src/rules.c src/err.c
FUZZ_SRC_fuzz_rules   := src/rules.c src/frame.c src/err.c
FUZZ_SRC_fuzz_spawn   := src/proto.c src/json.c src/err.c
FUZZ_SRC_fuzz_msg     := src/proto.c src/json.c src/err.c
FUZZ_SRC_fuzz_winargv := src/winargv.c
FUZZ_SRC_fuzz_wtf8    := src/wtf8.c src/proto.c src/json.c src/err.c

# Harnesses taking JSON payloads start from the protocol's member names.
FUZZ_DICT_fuzz_frame := $(FB)/json.dict
FUZZ_DICT_fuzz_spawn := $(FB)/json.dict
FUZZ_DICT_fuzz_msg   := $(FB)/json.dict

CJSON_CFLAGS ?= $(shell pkg-config --cflags libcjson)
CJSON_LIBS   ?= $(shell pkg-config --libs libcjson)

# UBSan aborts instead of printing and going on, so libFuzzer sees it as a
# crash and keeps the input.
FUZZ_SAN    := -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_CFLAGS  = -std=c11 -O1 -g -fno-omit-frame-pointer $(FUZZ_SAN) $(WARN) \
               -D_GNU_SOURCE -Isrc $(CJSON_CFLAGS)

.PHONY: fuzz fuzz-run

fuzz: $(FUZZ_HARNESSES:%=$(FB)/%) $(FB)/corpus/.stamp

# clang alone is not enough: Debian ships the libFuzzer and sanitizer
# runtimes separately, and without them only the link fails, obscurely.
$(FB)/.toolchain:
	@mkdir -p $(FB)
	@$(FUZZ_DEPS)
	@printf '%s\n' '#include <stddef.h>' '#include <stdint.h>' \
	    'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);' \
	    'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }' \
	    >$(FB)/probe.c
	@if ! $(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer -o $(FB)/probe $(FB)/probe.c \
	        >$(FB)/probe.log 2>&1; then \
	    cat $(FB)/probe.log >&2; \
	    echo "sbx fuzz: '$(FUZZ_CC) -fsanitize=fuzzer,address,undefined' cannot link;" \
	        "Debian/Ubuntu: apt-get install clang libclang-rt-14-dev" \
	        "(or the libclang-rt-N-dev of your clang)" >&2; \
	    exit 1; \
	fi
	@rm -f $(FB)/probe
	@touch $@

$(FB)/obj/%.o: %.c | $(FB)/.toolchain
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c -o $@ $<

define FUZZ_LINK
$(FB)/$(1): $(FB)/obj/test/fuzz/$(1).o $(FUZZ_SRC_$(1):%.c=$(FB)/obj/%.o)
	$$(FUZZ_CC) $$(FUZZ_SAN) -fsanitize=fuzzer -o $$@ $$^ $$(CJSON_LIBS)
endef
$(foreach h,$(FUZZ_HARNESSES),$(eval $(call FUZZ_LINK,$(h))))

$(FB)/corpus/.stamp: docs/protocol.md test/fuzz/seeds.sh
	sh test/fuzz/seeds.sh docs/protocol.md $(FB)
	@touch $@

# Each harness fuzzes a scratch copy of its seeds, so new inputs never land
# in build/fuzz/corpus.  All harnesses run even when one fails; a crash
# leaves its input in $(FB)/run/<harness>/artifacts/ and the log beside it.
# Besides the exit status, the log is searched for sanitizer reports, so a
# report that does not end the process still fails the run.
fuzz-run: fuzz
	@failed=; \
	for h in $(FUZZ_HARNESSES); do \
	    w=$(FB)/run/$$h; \
	    rm -rf $$w && mkdir -p $$w/corpus $$w/artifacts && cp $(FB)/corpus/$$h/* $$w/corpus/; \
	    d=; for x in $(foreach h,$(FUZZ_HARNESSES),$(h)=$(FUZZ_DICT_$(h))); do \
	        case $$x in "$$h="?*) d=-dict=$${x#*=} ;; esac; \
	    done; \
	    t0=$$(date +%s); \
	    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	    $(FB)/$$h $$d -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=2048 -timeout=10 \
	        -error_exitcode=77 -timeout_exitcode=77 -print_final_stats=1 \
	        -artifact_prefix=$$w/artifacts/ $(FUZZ_ARGS) $$w/corpus >$$w/log 2>&1; \
	    rc=$$?; t=$$(($$(date +%s) - t0)); \
	    st() { sed -n "s/^stat::$$1: *//p" $$w/log | tail -n 1; }; \
	    execs=$$(st number_of_executed_units); \
	    summary="$$h: $${execs:-?} execs in $$t s ($$(st average_exec_per_sec)/s),"; \
	    summary="$$summary corpus $$(ls $(FB)/corpus/$$h | wc -l) -> $$(ls $$w/corpus | wc -l),"; \
	    summary="$$summary peak rss $$(st peak_rss_mb) MB"; \
	    if [ $$rc -eq 0 ] && ! grep -Eq 'ERROR: (AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|libFuzzer)|runtime error:' $$w/log; then \
	        echo "$$summary: ok"; \
	    else \
	        echo "$$summary: FAILED (exit $$rc), log $$w/log"; \
	        sed -n '/ERROR:\|runtime error:\|check failed/,$$p' $$w/log | head -n 80; \
	        for a in $$w/artifacts/*; do \
	            [ -f "$$a" ] || continue; \
	            echo "input $$a ($$(wc -c <$$a) bytes):"; od -An -tx1 -v $$a | head -n 64; \
	        done; \
	        failed="$$failed $$h"; \
	    fi; \
	done; \
	if [ -n "$$failed" ]; then echo "fuzz-run: FAILED:$$failed" >&2; exit 1; fi; \
	echo "fuzz-run: $(words $(FUZZ_HARNESSES)) harnesses, no crash, leak or sanitizer report"

-include $(wildcard $(FB)/obj/*/*.d $(FB)/obj/*/*/*.d)
