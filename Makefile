# coloop - the build.
#
#   make demo     the essays' headline experiment (installs missing dependencies first)
#   make check    every Check suite, plus the README's example
#   make bench    the benchmark programs (figures, not pass/fail)
#   make claims   every essay claim's demo in its short run, with fresh figures
#   make fuzz     every libFuzzer target for FUZZ_SECONDS each (default 30; needs clang)
#   make asan     the suites under AddressSanitizer + UBSan
#   make valgrind the suites under Valgrind memcheck
#   make install PREFIX=/usr/local    library, headers and coloop.pc
#   SWITCH=asm    any goal with the hand-written x86-64 context switch instead
#                 of ucontext (built under build/asm; `make bench` runs both)
#
# Every goal first runs tools/deps.sh, which installs what is missing (as
# root, with apt-get) or prints the command to run.  Then make calls itself
# with COLOOP_DEPS_OK=1 to do the real work.

GOALS := $(or $(MAKECMDGOALS),all)

ifeq ($(COLOOP_DEPS_OK)$(filter-out clean,$(GOALS)),)
# only "make clean": no dependencies needed
else ifndef COLOOP_DEPS_OK
.PHONY: $(GOALS)
$(firstword $(GOALS)):
	@sh tools/deps.sh
	@$(MAKE) --no-print-directory COLOOP_DEPS_OK=1 $(GOALS)
$(filter-out $(firstword $(GOALS)),$(GOALS)): $(firstword $(GOALS))
	@:
endif

ifeq ($(COLOOP_DEPS_OK)$(filter-out clean,$(GOALS)),)
.PHONY: clean
clean:
	rm -rf build
else ifdef COLOOP_DEPS_OK

SWITCH   ?= ucontext
ifeq ($(SWITCH),asm)
ifneq ($(shell uname -m),x86_64)
$(error SWITCH=asm is only written for x86-64; use the default ucontext switch)
endif
BUILD    ?= build/asm
SWITCH_CFLAGS := -DCOLOOP_SWITCH_ASM
else ifneq ($(SWITCH),ucontext)
$(error SWITCH must be ucontext or asm)
endif
BUILD    ?= build
PREFIX   ?= /usr/local
PKG_CONFIG ?= pkg-config

WARN     := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wno-missing-field-initializers
ifdef CI
WARN     += -Werror
endif
OPT      ?= -O2
# -fstack-clash-protection: a frame bigger than the guard page must still hit it
# (without it, a 64 KiB local array can jump the guard and corrupt a neighbour).
CFLAGS   ?= $(OPT) -g
ALL_CFLAGS = -std=gnu11 $(CFLAGS) $(WARN) -fstack-clash-protection -I. \
             $(SWITCH_CFLAGS) $(shell $(PKG_CONFIG) --cflags openssl) $(EXTRA_CFLAGS)
LDLIBS_LIB = $(shell $(PKG_CONFIG) --libs openssl) -pthread
CHECK_CFLAGS = $(shell $(PKG_CONFIG) --cflags check)
CHECK_LIBS   = $(shell $(PKG_CONFIG) --libs check)

LIB_SRCS  := $(wildcard runtime/*.c net/*.c http/*.c)
LIB_ASM   := $(wildcard runtime/*.S)
LIB_OBJS  := $(LIB_SRCS:%.c=$(BUILD)/obj/%.o) $(LIB_ASM:%.S=$(BUILD)/obj/%.o)
LIB       := $(BUILD)/libcoloop.a
TEST_SRCS := $(wildcard tests/*.c)
TEST_OBJS := $(TEST_SRCS:%.c=$(BUILD)/obj/%.o)
TEST_BIN  := $(BUILD)/tests/check_coloop
DEMO_SRCS := $(wildcard demos/*.c)
DEMO_BINS := $(DEMO_SRCS:demos/%.c=$(BUILD)/demos/%)
# Installed headers: the public API.  The *_internal.h files, runtime/internal.h,
# runtime/watchdog.h and http/chars.h are shared between a module's own .c files
# and are not a promise to users, so they stay in the source tree.
PRIVATE_HEADERS := $(wildcard */*_internal.h) runtime/internal.h runtime/watchdog.h http/chars.h
HEADERS   := coloop.h $(filter-out $(PRIVATE_HEADERS),$(wildcard runtime/*.h net/*.h http/*.h))

.PHONY: all lib demos tests check check-suites install-check demo bench bench-build asan valgrind fuzz claims install clean readme-example
.DEFAULT_GOAL := all

all: lib demos tests
lib: $(LIB)
demos: $(DEMO_BINS)
tests: $(TEST_BIN) $(DEMO_BINS)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/obj/%.o: %.S
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(BUILD)/obj/tests/%.o: tests/%.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(CHECK_CFLAGS) -MMD -MP -c $< -o $@

$(LIB): $(LIB_OBJS)
	@rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/demos/%: demos/%.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP $< -o $@ $(LIB) $(LDLIBS_LIB) -lm

$(TEST_BIN): $(TEST_OBJS) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(TEST_OBJS) -o $@ $(LIB) $(LDLIBS_LIB) $(CHECK_LIBS)

# The README's code example must compile and run: extract it and build it.
$(BUILD)/readme/example.c: README.md
	@mkdir -p $(dir $@)
	awk '/^```c$$/{inside=1; next} /^```$$/{if (inside) exit} inside' README.md > $@
	@test -s $@ || { echo "README.md has no \`\`\`c example block"; exit 1; }

$(BUILD)/readme/example: $(BUILD)/readme/example.c $(LIB)
	$(CC) $(ALL_CFLAGS) $< -o $@ $(LIB) $(LDLIBS_LIB)

readme-example: $(BUILD)/readme/example
	@echo "== README example =="
	@$(BUILD)/readme/example

# `make install` must give a working library: install into the build tree and
# build the README example against the installed coloop.pc.
install-check: $(BUILD)/readme/example.c $(LIB)
	@echo "== make install + pkg-config =="
	@rm -rf $(BUILD)/install-check
	@$(MAKE) --no-print-directory install PREFIX=$(CURDIR)/$(BUILD)/install-check >/dev/null
	@PKG_CONFIG_PATH=$(CURDIR)/$(BUILD)/install-check/lib/pkgconfig; export PKG_CONFIG_PATH; \
	    $(CC) -o $(BUILD)/install-check/example $(BUILD)/readme/example.c \
	        $$($(PKG_CONFIG) --cflags --libs coloop) && $(BUILD)/install-check/example

# The suites run once per context switch: ucontext, and on x86-64 the asm switch too.
check: readme-example install-check check-suites
ifeq ($(SWITCH)$(shell uname -m),ucontextx86_64)
	@$(MAKE) --no-print-directory SWITCH=asm check-suites
endif

check-suites: tests
	@echo "== Check suites ($(SWITCH) switch) =="
	@cd $(BUILD)/tests && ./check_coloop

# The headline experiment: 100 requests to a 1-second endpoint, five ways
# (about 45 s; DEMO_ARGS=--quick for a 2-second run, DEMO_ARGS=--help for more).
# The build is done in parallel (one job per CPU) so a newcomer waits for the
# experiment, not for the compiler.
demo:
	@$(MAKE) --no-print-directory -j$(shell nproc 2>/dev/null || echo 2) $(BUILD)/demos/headline
	@$(BUILD)/demos/headline $(DEMO_ARGS)

# Every benchmark that exercises the runtime runs twice when the asm switch
# exists: ucontext (the default) and asm.  parsebench touches no coroutine, so
# it runs once.  clientbench and serverbench compare with wrk and nginx when
# they are installed (apt-get install -y wrk nginx) and say so when not.
BENCH_SWITCHES := ucontext $(if $(filter x86_64,$(shell uname -m)),asm)
BENCH_PROGRAMS := loopstress syncbench netbench clientbench serverbench
bench:
	@for sw in $(BENCH_SWITCHES); do \
	    $(MAKE) --no-print-directory SWITCH=$$sw bench-build >/dev/null || exit 1; done
	@build/demos/parsebench || exit 1; echo
	@for sw in $(BENCH_SWITCHES); do \
	    dir=build; [ $$sw = asm ] && dir=build/asm; \
	    for prog in $(BENCH_PROGRAMS); do \
	        echo "== $$prog ($$sw switch) =="; $$dir/demos/$$prog || exit 1; echo; done; done

bench-build: $(BENCH_PROGRAMS:%=$(BUILD)/demos/%) $(BUILD)/demos/parsebench

# AddressSanitizer + UBSan with the fiber annotations of runtime/sanitizers.h.
# detect_stack_use_after_return=1: ASan's swapcontext interceptor wipes the
# redzones of frames that live across a yield; fake stacks keep them checked.
ASAN_FLAGS := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
asan:
	@$(MAKE) --no-print-directory BUILD=build/asan-$(SWITCH) CFLAGS="$(ASAN_FLAGS)" tests
	@echo "== Check suites under ASan+UBSan ($(SWITCH) switch) =="
	@cd build/asan-$(SWITCH)/tests && ASAN_OPTIONS=detect_stack_use_after_return=1:detect_leaks=1:abort_on_error=1 \
	    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ./check_coloop

# Valgrind needs Check's fork mode off, or every child's inherited memory looks leaked.
# --fair-sched=yes: without it Valgrind can starve the watchdog thread.
valgrind:
	@command -v valgrind >/dev/null || { echo "valgrind is not installed: apt-get install -y valgrind"; exit 1; }
	@$(MAKE) --no-print-directory BUILD=build/valgrind-$(SWITCH) CFLAGS="-O1 -g" tests
	@echo "== Check suites under Valgrind ($(SWITCH) switch) =="
	@cd build/valgrind-$(SWITCH)/tests && CK_FORK=no COLOOP_UNDER_VALGRIND=1 valgrind -q --error-exitcode=1 --fair-sched=yes \
	    --leak-check=full --errors-for-leak-kinds=definite --track-fds=yes ./check_coloop

# docs/CLAIMS.md's commands, short configuration (tests/test_claims.c runs it too).
claims: demos
	@sh tools/claims.sh $(BUILD)

# libFuzzer targets for the parser, the chunked decoder and the URL code
# (tests/fuzz/run.sh builds them with clang, ASan and UBSan).
FUZZ_SECONDS ?= 30
fuzz:
	@sh tests/fuzz/run.sh $(FUZZ_SECONDS)

install: $(LIB)
	install -d $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/include/coloop
	install -m 644 $(LIB) $(DESTDIR)$(PREFIX)/lib/
	for h in $(HEADERS); do install -D -m 644 $$h $(DESTDIR)$(PREFIX)/include/coloop/$$h; done
	sed -e 's|@PREFIX@|$(PREFIX)|' tools/coloop.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/coloop.pc

clean:
	rm -rf build

-include $(shell find $(BUILD)/obj $(BUILD)/demos -name '*.d' 2>/dev/null)
endif
