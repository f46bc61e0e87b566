# Makefile - builds the moonstep engine (GNU make, C11).
#
#   make            build/libmoonstep.a, build/moonstep, build/moonstep.so
#   make deps       install missing Debian packages (as root), else list them
#   make test       busted specs + AWS conformance, then all of it again
#                   under AddressSanitizer and UBSan (build-asan/)
#   make jsonata    the JSONata reference test suite (../shared/jsonata)
#   make demo       the csv-ingest example end to end (examples/csv-ingest)
#   make bench      moonstep against the peer (bench/bench.lua has the knobs)
#   make fuzz       each libFuzzer target in spec/fuzz/ for FUZZ_TIME seconds
#   make memcheck   the CLI under Valgrind over every conformance case
#   make soak       SOAK_RUNS executions in one process; memory stays flat
#   make install    PREFIX=/usr/local (DESTDIR honoured)
#   make clean
#
# BUILD names the output folder; BUILD=build-asan turns the sanitizers on,
# so one set of rules makes both trees.

BUILD ?= build
ifeq ($(origin CC),default)
CC := gcc
endif
LUA ?= lua5.4
BUSTED ?= busted

# pkg-config packages: all are used for include flags; LINK_PKGS go into
# the binary, SO_PKGS into the Lua module (the host provides Lua itself).
# libcurl is not linked: engine/http.c loads it on the first request
# (dlopen), which saves every other process 20 ms and 6.5 MB.
CFLAG_PKGS := lua5.4 jansson libcurl sqlite3 libpcre2-8
LINK_PKGS := lua5.4 jansson sqlite3 libpcre2-8
SO_PKGS := jansson sqlite3 libpcre2-8

PKG_CFLAGS := $(shell pkg-config --cflags $(CFLAG_PKGS) 2>/dev/null)
LINK_LIBS := $(shell pkg-config --libs $(LINK_PKGS) 2>/dev/null) -ldl -lm
SO_LIBS := $(shell pkg-config --libs $(SO_PKGS) 2>/dev/null) -ldl -lm

ifeq ($(BUILD),build-asan)
SANFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=undefined \
            -fno-omit-frame-pointer
OPT := -O1 -g
else
SANFLAGS :=
OPT := -O2 -g
endif

CFLAGS ?= $(OPT)
ALL_CFLAGS := -std=c11 -D_GNU_SOURCE -Wall -Wextra -fPIC $(SANFLAGS) \
              $(CFLAGS) $(PKG_CFLAGS) -Iengine
DEPFLAGS = -MMD -MP
ALL_LDFLAGS := $(SANFLAGS) $(LDFLAGS)

# Sources: every engine/*.c; the CLI front end (engine/cli*.c: the
# dispatcher and one file per command family) is kept out of the library.
CLI_SRCS := $(wildcard engine/cli*.c)
ALL_SRCS := $(wildcard engine/*.c)
LIB_SRCS := $(filter-out $(CLI_SRCS),$(ALL_SRCS))
LIB_OBJS := $(patsubst engine/%.c,$(BUILD)/obj/%.o,$(LIB_SRCS))
CLI_OBJS := $(patsubst engine/%.c,$(BUILD)/obj/%.o,\
              $(filter $(ALL_SRCS),$(CLI_SRCS)))

LIB := $(BUILD)/libmoonstep.a
BIN := $(BUILD)/moonstep
SO := $(BUILD)/moonstep.so
# A helper the specs use (spec/hostile_spec.lua): integrity check, lock.
DBCHECK := $(BUILD)/spec/dbcheck

# The binary needs its front end; until engine/cli.c exists, build the rest.
TARGETS := $(LIB) $(SO) $(DBCHECK)
ifneq ($(CLI_OBJS),)
TARGETS += $(BIN)
endif

# Conformance data lives beside the repository, never inside it.
CONFORMANCE ?= $(or $(MOONSTEP_CONFORMANCE),\
                 ../shared/conformance/aws-recorded.jsonl)
THRESHOLD ?= 95

# The JSONata reference implementation's test suite, beside the repository
# too; run in process through moonstep.so (JSONATA_PRELOAD: the sanitizer
# runtime, for the build-asan module under the uninstrumented lua5.4).
JSONATA_CASES ?= $(or $(MOONSTEP_JSONATA),../shared/jsonata/cases.jsonl)
JSONATA_THRESHOLD ?= 95
JSONATA_PRELOAD ?=

# Sanitizer runtime for the Lua-hosted run (lua5.4 is not instrumented).
LIBASAN = $(shell $(CC) -print-file-name=libasan.so)

# The demo: examples/csv-ingest/demo.sh (DEMO_ROWS=100000 rows).

DEPS_PKGS := liblua5.4-dev lua5.4 lua-cjson lua-busted libjansson-dev \
             libsqlite3-dev libcurl4-openssl-dev libpcre2-dev pkg-config gcc \
             make

PREFIX ?= /usr/local
BINDIR := $(DESTDIR)$(PREFIX)/bin
LUA_CDIR := $(DESTDIR)$(PREFIX)/lib/lua/5.4
LUA_LDIR := $(DESTDIR)$(PREFIX)/share/lua/5.4
MAN1DIR := $(DESTDIR)$(PREFIX)/share/man/man1

.PHONY: all deps test test-plain test-asan conformance jsonata demo bench \
        install \
        clean fuzz fuzz-deps fuzz-lib memcheck memcheck-deps soak

all: $(TARGETS)

$(BUILD)/obj/%.o: engine/%.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(DEPFLAGS) -c $< -o $@

$(LIB): $(LIB_OBJS)
	@mkdir -p $(@D)
	rm -f $@
	$(AR) rcs $@ $^

$(BIN): $(CLI_OBJS) $(LIB)
	$(CC) $(ALL_LDFLAGS) -o $@ $(CLI_OBJS) $(LIB) $(LINK_LIBS)

$(SO): $(LIB_OBJS)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -shared -o $@ $(LIB_OBJS) $(SO_LIBS)

$(DBCHECK): spec/hostile/dbcheck.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< -lsqlite3

-include $(LIB_OBJS:.o=.d) $(CLI_OBJS:.o=.d)

# The http specs' test server (spec/support/testhttpd.c), a plain program
# built before busted runs; the specs find it in MOONSTEP_BUILD's folder.
$(BUILD)/testhttpd: spec/support/testhttpd.c
	@mkdir -p $(@D)
	$(CC) -std=c11 -D_GNU_SOURCE -Wall -Wextra -O2 -o $@ $<

# $(call install_missing,PACKAGES): install the missing ones (as root),
# else list them and fail. deps, fuzz-deps and memcheck-deps use it.
install_missing = missing=""; \
	for p in $(1); do \
	  dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing:$$missing"; \
	    apt-get update && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y $$missing; \
	  else \
	    echo "missing packages:$$missing" >&2; \
	    echo "run: sudo apt-get install$$missing" >&2; \
	    exit 1; \
	  fi; \
	fi

deps:
	@$(call install_missing,$(DEPS_PKGS))

# The suite runs twice: a plain build, then build-asan. Specs tagged
# #binary drive the CLI only; #conformance (the conformance spec) is left
# out because the runner is run directly, with its full report.
# The suite's runs record nothing on disk (store_spec.lua passes its own
# --db): MOONSTEP_DB is an in-memory database for every process.
test-plain test-asan conformance: export MOONSTEP_DB := :memory:

test: deps
	$(MAKE) test-plain
	$(MAKE) test-asan

test-plain:
	$(MAKE) BUILD=build all build/testhttpd
	$(BUSTED) --exclude-tags=conformance spec examples
	$(MAKE) BUILD=build conformance
	$(MAKE) BUILD=build jsonata

# The sanitized run happens in $(ASAN_TREE): the repository's top level
# linked in, with "build" pointing at build-asan, so specs that load
# ./build/moonstep.so or run build/moonstep get the instrumented ones.
# Lua-hosted specs: ASan preloaded, leak checks off (the interpreter is not
# instrumented). Binary-driven specs and conformance: leak checks on; only
# the spec files with #binary tests are loaded then (no Lua-hosted module).
ASAN_TREE := build-asan/tree

test-asan:
	$(MAKE) BUILD=build-asan all build-asan/testhttpd
	rm -rf $(ASAN_TREE) && mkdir -p $(ASAN_TREE)
	for f in $$(ls -A); do \
	  case $$f in build|build-asan|.git) ;; \
	    *) ln -s ../../$$f $(ASAN_TREE)/$$f ;; esac; \
	done
	ln -s .. $(ASAN_TREE)/build
	rm -f build-asan/shared
	if [ -d ../shared ]; then ln -s ../../shared build-asan/shared; fi
	cd $(ASAN_TREE) && \
	  LD_PRELOAD=$(LIBASAN) ASAN_OPTIONS=detect_leaks=0 \
	  $(BUSTED) --exclude-tags=conformance,binary spec examples
	cd $(ASAN_TREE) && ASAN_OPTIONS=detect_leaks=1 \
	  $(BUSTED) --tags=binary --exclude-tags=conformance \
	    $$(grep -l '#binary' spec/*_spec.lua)
	ASAN_OPTIONS=detect_leaks=1 $(MAKE) BUILD=build-asan conformance
	$(MAKE) BUILD=build-asan JSONATA_PRELOAD=$(LIBASAN) jsonata

conformance:
	@if [ -f "$(CONFORMANCE)" ]; then \
	  $(LUA) spec/conformance.lua --binary $(BIN) --file "$(CONFORMANCE)" \
	    --threshold $(THRESHOLD); \
	else \
	  echo "conformance: $(CONFORMANCE) not found, skipped"; \
	fi

jsonata:
	@if [ -f "$(JSONATA_CASES)" ]; then \
	  LD_PRELOAD=$(JSONATA_PRELOAD) ASAN_OPTIONS=detect_leaks=0 \
	  MOONSTEP_BUILD=$(BUILD) $(LUA) spec/jsonata.lua \
	    --file "$(JSONATA_CASES)" --threshold $(JSONATA_THRESHOLD); \
	else \
	  echo "jsonata: $(JSONATA_CASES) not found, skipped"; \
	fi

demo: deps
	$(MAKE) BUILD=build all
	BUILD=build LUA=$(LUA) sh examples/csv-ingest/demo.sh

# The peer, aws-local-stepfunctions 3, is installed with npm into
# bench/.peer/ (ignored by git) on first use; sizes and run counts are
# environment variables read by bench/bench.lua.
PEER_PKG := bench/.peer/node_modules/aws-local-stepfunctions/package.json

bench: all $(BUILD)/bench/proctime $(BUILD)/bench/benchclock.so $(PEER_PKG)
	@$(call install_missing,sqlite3)
	MOONSTEP_BUILD=$(BUILD) LUA=$(LUA) $(LUA) bench/bench.lua

$(BUILD)/bench/proctime: bench/proctime.c
	@mkdir -p $(@D)
	$(CC) -std=c11 -D_GNU_SOURCE -Wall -Wextra -O2 -o $@ $<

$(BUILD)/bench/benchclock.so: bench/benchclock.c
	@mkdir -p $(@D)
	$(CC) -std=c11 -D_GNU_SOURCE -Wall -Wextra -O2 -fPIC -shared \
	  $(PKG_CFLAGS) -o $@ $<

$(PEER_PKG):
	@mkdir -p bench/.peer
	echo '{"private": true}' > bench/.peer/package.json
	npm install --prefix bench/.peer --no-audit --no-fund \
	  aws-local-stepfunctions@3

install: all
	install -d $(BINDIR) $(LUA_CDIR)
	install -m 755 $(BIN) $(BINDIR)/moonstep
	install -m 755 $(SO) $(LUA_CDIR)/moonstep.so
	@if ls lua/moonstep/*.lua >/dev/null 2>&1; then \
	  install -d $(LUA_LDIR)/moonstep && \
	  install -m 644 lua/moonstep/*.lua $(LUA_LDIR)/moonstep/; \
	fi
	@if [ -f docs/moonstep.1 ]; then \
	  install -d $(MAN1DIR) && \
	  install -m 644 docs/moonstep.1 $(MAN1DIR)/moonstep.1; \
	fi

clean:
	rm -rf build build-asan

# Fuzzing (issue 10). Each spec/fuzz/NAME.c is a libFuzzer target over the
# engine's C API, linked with a clang-built libmoonstep.a instrumented for
# the fuzzer and ASan+UBSan ($(FUZZ_BUILD)). Seeds come from spec/fixtures
# at run time (spec/fuzz/seeds.lua); what a run finds stays in
# $(FUZZ_BUILD)/corpus/NAME for the next run; a crash is written to
# $(FUZZ_BUILD)/crash-NAME-* and fails the target. The last "cov:"/"ft:"
# line of each run is printed (full logs: $(FUZZ_BUILD)/NAME.log).
FUZZ_TIME ?= 60
FUZZ_CC ?= clang
FUZZ_BUILD ?= build-fuzz-clang
FUZZ_PKGS := clang libclang-rt-14-dev
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=undefined \
            -fno-omit-frame-pointer
FUZZ_TARGETS ?= $(basename $(notdir $(wildcard spec/fuzz/*.c)))
FUZZ_BINS := $(addprefix $(FUZZ_BUILD)/fuzz/,$(FUZZ_TARGETS))

fuzz-deps:
	@$(call install_missing,$(FUZZ_PKGS))

# The library, built by a make of its own: BUILD=$(FUZZ_BUILD) there.
fuzz-lib:
	$(MAKE) BUILD=$(FUZZ_BUILD) CC=$(FUZZ_CC) \
	  CFLAGS="-O1 -g $(FUZZ_SAN) -fsanitize=fuzzer-no-link" \
	  $(FUZZ_BUILD)/libmoonstep.a

$(FUZZ_BUILD)/fuzz/%: spec/fuzz/%.c spec/fuzz/fuzz.h \
                     $(FUZZ_BUILD)/libmoonstep.a
	@mkdir -p $(@D)
	$(FUZZ_CC) -std=c11 -D_GNU_SOURCE -Wall -Wextra -O1 -g $(FUZZ_SAN) \
	  -fsanitize=fuzzer $(PKG_CFLAGS) -Iengine -o $@ $< \
	  $(FUZZ_BUILD)/libmoonstep.a $(LINK_LIBS)

fuzz: deps fuzz-deps
	$(MAKE) fuzz-lib
	$(MAKE) $(FUZZ_BINS)
	rm -rf $(FUZZ_BUILD)/seeds
	$(LUA) spec/fuzz/seeds.lua $(FUZZ_BUILD)/seeds
	@status=0; for t in $(FUZZ_TARGETS); do \
	  mkdir -p $(FUZZ_BUILD)/corpus/$$t; \
	  dict=""; \
	  if [ -f spec/fuzz/$$t.dict ]; then dict=-dict=spec/fuzz/$$t.dict; fi; \
	  echo "fuzz: $$t for $(FUZZ_TIME)s"; \
	  if ! $(FUZZ_BUILD)/fuzz/$$t $$dict -max_total_time=$(FUZZ_TIME) \
	      -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
	      -print_final_stats=1 \
	      -artifact_prefix=$(FUZZ_BUILD)/crash-$$t- \
	      $(FUZZ_BUILD)/corpus/$$t $(FUZZ_BUILD)/seeds/$$t \
	      >$(FUZZ_BUILD)/$$t.log 2>&1; then \
	    echo "fuzz: $$t FAILED (see $(FUZZ_BUILD)/$$t.log)"; status=1; \
	  fi; \
	  grep -E '^#[0-9]+.*cov:' $(FUZZ_BUILD)/$$t.log | tail -1; \
	done; exit $$status

# Valgrind over the CLI: every conformance case (placeholders and slow
# ones included) runs under memcheck; any error or definite leak makes
# valgrind exit 99, which fails the run whatever the pass rate.
# MEMCHECK_ARGS goes to the runner (e.g. --filter map: a subset). Valgrind
# costs about 2 s of CPU a case: some 10 minutes on an idle machine.
MEMCHECK_PKGS := valgrind
VALGRIND := valgrind -q --error-exitcode=99 --leak-check=full \
            --show-leak-kinds=definite --errors-for-leak-kinds=definite

memcheck-deps:
	@$(call install_missing,$(MEMCHECK_PKGS))

memcheck: export MOONSTEP_DB := :memory:
memcheck: deps memcheck-deps all
	@if [ -f "$(CONFORMANCE)" ]; then \
	  $(LUA) spec/conformance.lua --binary $(BIN) --file "$(CONFORMANCE)" \
	    --threshold $(THRESHOLD) --placeholders --slow --timeout 600 \
	    --jobs 2 --wrap "$(VALGRIND)" --wrap-status 99 $(MEMCHECK_ARGS); \
	else \
	  echo "memcheck: $(CONFORMANCE) not found"; exit 1; \
	fi

# The soak: SOAK_RUNS executions in one process through the Lua module,
# resident memory sampled; fails when it grows past spec/soak.lua's bound
# after the warm-up. The suite runs a 2,000-execution version.
SOAK_RUNS ?= 100000

soak: all
	MOONSTEP_BUILD=$(BUILD) $(LUA) spec/soak.lua $(SOAK_RUNS)

