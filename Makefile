# lua-bulksync: build, test and install the bulksync module.
#
#   make                      build bulksync/core.so for Lua $(LUA_VERSION)
#                             (compiled in build/$(LUA_VERSION)/, copied when the
#                             version differs from the one bulksync/core.so has)
#   make test                 install missing Debian packages, build, run every spec
#   make demo                 run the demo against the local stand-in server
#   make install              copy the module under $(DESTDIR)$(PREFIX)
#   make check-memory         specs under valgrind and under ASan+UBSan
#   make fuzz                 bounded libFuzzer pass over encoder and decoder
#   make matrix               specs under every supported Lua
#   make bench                the benchmark table
#   make docs                 the HTML reference (LDoc) in doc/index.html
#   make check                luacheck, cppcheck, -Werror builds with gcc and clang
#   make LUA_VERSION=5.1|5.2|5.3|5.4|jit ...

LUA_VERSION ?= 5.4
PREFIX      ?= /usr/local
DESTDIR     ?=

ifeq ($(LUA_VERSION),jit)
LUA_PC      ?= luajit
LUA         ?= luajit
LUA_ABI     ?= 5.1
else
LUA_PC      ?= lua$(LUA_VERSION)
LUA         ?= lua$(LUA_VERSION)
LUA_ABI     ?= $(LUA_VERSION)
endif

LUA_INCDIR  ?= $(shell pkg-config --cflags-only-I $(LUA_PC) 2>/dev/null | sed -e 's/^ *-I//' -e 's/ .*//')
CURL_CFLAGS ?= $(shell pkg-config --cflags libcurl 2>/dev/null)
CURL_LIBS   ?= $(shell pkg-config --libs libcurl 2>/dev/null || echo -lcurl)

CC          ?= cc
CFLAGS      ?= -O2 -g
WARN        := -std=c99 -Wall -Wextra -pedantic
# Only luaopen_bulksync_core is exported; everything else stays inside core.so.
ALL_CFLAGS  := $(WARN) -fPIC -fvisibility=hidden $(if $(LUA_INCDIR),-I$(LUA_INCDIR)) -Isrc $(CURL_CFLAGS) $(CFLAGS)
# A Lua module never links the interpreter: the host provides its symbols.
LDFLAGS_SO  ?= -shared

LMOD_DIR    := $(DESTDIR)$(PREFIX)/share/lua/$(LUA_ABI)
CMOD_DIR    := $(DESTDIR)$(PREFIX)/lib/lua/$(LUA_ABI)
BIN_DIR     := $(DESTDIR)$(PREFIX)/bin

SOURCES     := lua_bulksync.c src/buffer.c src/walk.c src/json.c src/schema.c src/http.c
HEADERS     := $(wildcard src/*.h)
LUA_SOURCES := bulksync.lua $(wildcard bulksync/*.lua)
# One build per Lua, kept side by side: switching LUA_VERSION back and
# forth only copies. bulksync/core.so is the copy the specs and .busted
# (cpath ./?.so) load; MODULE=path puts the copy elsewhere instead.
BUILD_DIR   := build/$(LUA_VERSION)
BUILT       := $(BUILD_DIR)/core.so
MODULE      := bulksync/core.so
# Which Lua bulksync/core.so is for, for people and scripts to read.
STAMP       := build/core.so.lua-version

.PHONY: all test unit demo install clean setup check check-memory fuzz bench matrix sources docs FORCE

all: $(MODULE)

$(BUILT): $(SOURCES) $(HEADERS)
	@mkdir -p $(BUILD_DIR)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS_SO) -o $@ $(SOURCES) $(CURL_LIBS)

# Checked on every run, not by timestamps: a newer module built for another
# Lua must still be replaced. The copy goes in by rename, so a process that
# has the old file loaded keeps a consistent mapping.
$(MODULE): $(BUILT) FORCE
	@if ! cmp -s $(BUILT) $@; then \
	  mkdir -p $(dir $@) && cp $(BUILT) $@.tmp && mv -f $@.tmp $@ && \
	  echo "$@: Lua $(LUA_VERSION) (from $(BUILT))"; \
	fi
	@if [ "$@" = bulksync/core.so ] && [ "$$(cat $(STAMP) 2>/dev/null)" != "$(LUA_VERSION)" ]; then \
	  echo "$(LUA_VERSION)" >$(STAMP); \
	fi

FORCE:

# The C sources, for the scripts that build their own variants (ASan, fuzz).
sources:
	@echo $(SOURCES)

setup:
	@sh scripts/setup.sh

# The README's test command: installs what is missing, then runs everything.
test:
	@sh scripts/setup.sh test
	@sh scripts/test.sh

# Only the busted specs, for the Lua chosen with LUA_VERSION.
unit: all
	prove --exec "$(LUA) $$(command -v busted) -o TAP" spec/*_spec.lua

demo: setup
	@sh scripts/demo.sh

# Lint, static analysis and warning-free builds; no server needed.
check:
	@sh scripts/setup.sh test
	@sh scripts/check.sh

# Every spec under valgrind memcheck and under an ASan+UBSan build.
check-memory:
	@sh scripts/check-memory.sh

# libFuzzer harnesses, each for a bounded time (FUZZ_SECONDS) from the seed corpus.
fuzz:
	@sh fuzz/run.sh

# Build and run the spec suite under Lua 5.1, 5.2, 5.3, 5.4 and LuaJIT.
matrix:
	@sh scripts/matrix.sh

bench:
	@sh scripts/setup.sh bench
	@sh bench/run.sh

# The reference, from the doc comments (config.ld lists the files), written
# to $(DOC_DIR)/. LDoc runs under Lua 5.1, the Lua Debian's lua-markdown is
# for. The rulers between the code's parts (lines of dashes) would each
# start a doc comment for LDoc: it reads a copy where they are plain
# comments, line numbers unchanged. Any warning fails the target.
DOC_DIR     ?= doc
DOC_SOURCES := config.ld bulksync.lua bulksync/errors.lua bulksync/plan.lua
LDOC_LUA    ?= lua5.1
docs:
	@sh scripts/setup.sh docs
	@rm -rf build/ldoc && mkdir -p build/ldoc/bulksync
	@for f in $(DOC_SOURCES); do sed 's/^-\{4,\}$$/--/' $$f >build/ldoc/$$f || exit 1; done
	@out="$(abspath $(DOC_DIR))"; cd build/ldoc && \
	  $(LDOC_LUA) "$$(command -v ldoc)" --fatalwarnings --dir "$$out" . >ldoc.log 2>&1; status=$$?; \
	  sed "s|$$(pwd)/||" ldoc.log; \
	  if [ $$status -ne 0 ] || grep -v -e '^reading configuration from ' -e '^output written to ' ldoc.log | grep -q .; then \
	    echo "make docs: ldoc warned (above); the reference must build without warnings" >&2; exit 1; \
	  fi

# Installs the build for the Lua named, whatever bulksync/core.so holds.
install: $(BUILT)
	install -d $(CMOD_DIR)/bulksync $(LMOD_DIR)/bulksync
	install -m 0644 $(BUILT) $(CMOD_DIR)/bulksync/core.so
	install -m 0644 bulksync.lua $(LMOD_DIR)/bulksync.lua
	for f in $(wildcard bulksync/*.lua); do install -m 0644 $$f $(LMOD_DIR)/$$f; done
	install -d $(LMOD_DIR)/bulksync/standin $(BIN_DIR)
	for f in $(filter-out standin/server.lua,$(wildcard standin/*.lua)); do \
	  install -m 0644 $$f $(LMOD_DIR)/bulksync/$$f; done
	install -m 0755 bin/bulksync $(BIN_DIR)/bulksync

clean:
	rm -rf build
	rm -f $(MODULE) $(MODULE).tmp bulksync/*.o *.o src/*.o
