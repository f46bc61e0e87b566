# Makefile - builds the moonstep engine (GNU make, C11).
#
#   make            build/libmoonstep.a, build/moonstep, build/moonstep.so
#   make deps       install missing Debian packages (as root), else list them
#   make test       busted specs + AWS conformance, then all of it again
#                   under AddressSanitizer and UBSan (build-asan/)
#   make demo       run the example state machine
#   make bench      moonstep against the peer (bench/bench.lua has the knobs)
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
CFLAG_PKGS := lua5.4 jansson libcurl sqlite3 libpcre2-8
LINK_PKGS := lua5.4 jansson libcurl sqlite3 libpcre2-8
SO_PKGS := jansson libcurl sqlite3 libpcre2-8

PKG_CFLAGS := $(shell pkg-config --cflags $(CFLAG_PKGS) 2>/dev/null)
LINK_LIBS := $(shell pkg-config --libs $(LINK_PKGS) 2>/dev/null) -lm
SO_LIBS := $(shell pkg-config --libs $(SO_PKGS) 2>/dev/null) -lm

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

# The binary needs its front end; until engine/cli.c exists, build the rest.
TARGETS := $(LIB) $(SO)
ifneq ($(CLI_OBJS),)
TARGETS += $(BIN)
endif

# Conformance data lives beside the repository, never inside it.
CONFORMANCE ?= $(or $(MOONSTEP_CONFORMANCE),\
                 ../shared/conformance/aws-recorded.jsonl)
THRESHOLD ?= 95

# Sanitizer runtime for the Lua-hosted run (lua5.4 is not instrumented).
LIBASAN = $(shell $(CC) -print-file-name=libasan.so)

# The demo; a later issue points these at examples/csv-ingest.
DEMO_DEF ?= examples/hello/hello.asl.json
DEMO_INPUT ?= examples/hello/input.json

DEPS_PKGS := liblua5.4-dev lua5.4 lua-cjson lua-busted libjansson-dev \
             libsqlite3-dev libcurl4-openssl-dev libpcre2-dev pkg-config gcc \
             make

PREFIX ?= /usr/local
BINDIR := $(DESTDIR)$(PREFIX)/bin
LUA_CDIR := $(DESTDIR)$(PREFIX)/lib/lua/5.4
LUA_LDIR := $(DESTDIR)$(PREFIX)/share/lua/5.4
MAN1DIR := $(DESTDIR)$(PREFIX)/share/man/man1

.PHONY: all deps test test-plain test-asan conformance demo bench install \
        clean

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

-include $(LIB_OBJS:.o=.d) $(CLI_OBJS:.o=.d)

deps:
	@missing=""; \
	for p in $(DEPS_PKGS); do \
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
	$(MAKE) BUILD=build all
	$(BUSTED) --exclude-tags=conformance spec examples
	$(MAKE) BUILD=build conformance

# The sanitized run happens in $(ASAN_TREE): the repository's top level
# linked in, with "build" pointing at build-asan, so specs that load
# ./build/moonstep.so or run build/moonstep get the instrumented ones.
# Lua-hosted specs: ASan preloaded, leak checks off (the interpreter is not
# instrumented). Binary-driven specs and conformance: leak checks on; only
# the spec files with #binary tests are loaded then (no Lua-hosted module).
ASAN_TREE := build-asan/tree

test-asan:
	$(MAKE) BUILD=build-asan all
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

conformance:
	@if [ -f "$(CONFORMANCE)" ]; then \
	  $(LUA) spec/conformance.lua --binary $(BIN) --file "$(CONFORMANCE)" \
	    --threshold $(THRESHOLD); \
	else \
	  echo "conformance: $(CONFORMANCE) not found, skipped"; \
	fi

demo: deps
	$(MAKE) BUILD=build all
	build/moonstep run $(DEMO_DEF) --input @$(DEMO_INPUT)

# The peer, aws-local-stepfunctions 3, is installed with npm into
# bench/.peer/ (ignored by git) on first use; sizes and run counts are
# environment variables read by bench/bench.lua.
PEER_PKG := bench/.peer/node_modules/aws-local-stepfunctions/package.json

bench: all $(BUILD)/bench/proctime $(BUILD)/bench/benchclock.so $(PEER_PKG)
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
