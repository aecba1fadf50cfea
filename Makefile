# Makefile - builds rathaus, runs its tests, fuzzers and benchmarks.
#
#   make run     install missing packages, build, start the portal
#   make test    install missing packages, build, run all tests
#   make bench   build and print performance figures (never fails on timing)
#   make fuzz    build the fuzz targets (clang/libFuzzer) and run each briefly
#   make SAN=1 test   the same tests under AddressSanitizer + UBSan
#
# Sources are found by folder: src/<subsystem>/*.c form the library,
# src/cli/*.c the binary, tests/*.c the test runner, fuzz/fuzz_*.c fuzzers.
# Files named *_avx2.c / *_avx512.c are compiled for those instruction sets
# and chosen at run time.

PKGS    := sqlite3 libmicrohttpd libsodium jansson libcurl libxml-2.0 libzip tesseract scripts/mupdf-static.pc
SAN     ?= 0
BUILD   ?= build$(if $(filter 1,$(SAN)),-san)
CC      := gcc

WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
           -Wvla -Wformat=2
ifeq ($(SAN),1)
OPT     := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer \
           -fno-sanitize-recover=undefined
else
OPT     := -O2 -g
endif

PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CFLAGS  := -std=c17 $(OPT) $(WARN) -D_GNU_SOURCE -Isrc -pthread -MMD -MP $(PKG_CFLAGS)
LDFLAGS := $(OPT) -pthread
LDLIBS  := $(PKG_LIBS) -lstemmer -lm

ISA_avx2   := -mavx2 -mfma -mf16c
ISA_avx512 := $(ISA_avx2) -mavx512f -mavx512bw -mavx512vl -mavx512dq -mavx512vnni
isa = $(if $(findstring _avx512,$(notdir $1)),$(ISA_avx512),$(if $(findstring _avx2,$(notdir $1)),$(ISA_avx2)))

LIB_SRC  := $(sort $(shell find src -name '*.c' -not -path 'src/cli/*'))
CLI_SRC  := $(sort $(wildcard src/cli/*.c))
TEST_SRC := $(sort $(wildcard tests/*.c))
FUZZ_SRC := $(sort $(wildcard fuzz/fuzz_*.c))

LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/obj/%.o) $(BUILD)/obj/gen/assets.o $(BUILD)/obj/gen/academy_content.o
CLI_OBJ  := $(CLI_SRC:%.c=$(BUILD)/obj/%.o)
TEST_OBJ := $(TEST_SRC:%.c=$(BUILD)/obj/%.o)

BIN      := $(BUILD)/rathaus
TESTBIN  := $(BUILD)/rathaus-test

.PHONY: all deps run test check bench fuzz clean

all: $(BIN) $(TESTBIN)

deps:
	@scripts/deps.sh

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(call isa,$<) -c $< -o $@

# The web UI (web/) is embedded into the binary: a small host program turns
# every file under web/ into build/gen/assets.c, compiled with the library.
ASSET_SRC := $(shell find web -type f 2>/dev/null | sort)

$(BUILD)/tools/embed_assets: scripts/embed_assets.c
	@mkdir -p $(dir $@)
	$(CC) -std=c17 -O2 -Wall -Wextra -o $@ $<

$(BUILD)/gen/assets.c: $(BUILD)/tools/embed_assets $(ASSET_SRC) $(wildcard web web/*/)
	@mkdir -p $(dir $@)
	$(BUILD)/tools/embed_assets web $@

$(BUILD)/obj/gen/assets.o: $(BUILD)/gen/assets.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

# The academy's built-in lessons and quiz (content/academy/) the same way,
# as the table rh_academy_files (src/academy/content.c).
ACADEMY_SRC := $(shell find content/academy -type f 2>/dev/null | sort)

$(BUILD)/gen/academy_content.c: $(BUILD)/tools/embed_assets $(ACADEMY_SRC) $(wildcard content/academy content/academy/*/)
	@mkdir -p $(dir $@)
	$(BUILD)/tools/embed_assets content/academy $@ rh_academy_files

$(BUILD)/obj/gen/academy_content.o: $(BUILD)/gen/academy_content.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/librathaus.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

# --whole-archive: modules that only register themselves (WEB_ROUTES
# constructors, e.g. src/web/api_trainer.c) have no symbol the linker would
# otherwise pull them in for.
$(BIN): $(CLI_OBJ) $(BUILD)/librathaus.a
	$(CC) $(LDFLAGS) -o $@ $(CLI_OBJ) -Wl,--whole-archive $(BUILD)/librathaus.a -Wl,--no-whole-archive $(LDLIBS)

# The test runner links every object file directly so that all TEST()s and
# the CLI commands (minus main) are present.
$(TESTBIN): $(TEST_OBJ) $(LIB_OBJ) $(filter-out %/main.o,$(CLI_OBJ))
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# `make run`: the portal on http://127.0.0.1:8080 with data in ./data.
run: deps
	@$(MAKE) --no-print-directory $(BIN)
	@mkdir -p data
	@echo ""
	@echo "rathaus: starting the portal on http://127.0.0.1:8080 (data directory ./data)"
	@echo "  First start: open http://127.0.0.1:8080/ in a browser and create the"
	@echo "  administrator account on the set-up page (or: $(BIN) user add --admin NAME)."
	@echo "  Models: put a GGUF file into ./data/models/ (picked up without a restart), and/or use an OpenAI-compatible"
	@echo "  upstream: RATHAUS_UPSTREAM_URL=http://HOST:PORT/v1 [RATHAUS_UPSTREAM_API_KEY=...] make run,"
	@echo "  or write rathaus.conf (see rathaus.conf.example). Stop with Ctrl-C."
	@echo ""
	RATHAUS_LISTEN=$${RATHAUS_LISTEN:-127.0.0.1:8080} RATHAUS_DATA_DIR=$${RATHAUS_DATA_DIR:-./data} \
		$(BIN) serve $$( [ -f rathaus.conf ] && echo --config rathaus.conf )

# `make test` = set-up + build + every fast test. T=filter runs a subset.
test: deps
	@scripts/checksrc.sh
	@command -v npm >/dev/null 2>&1 || scripts/deps.sh scripts/packages-e2e.txt || true
	@[ -d tests/e2e/node_modules ] || (cd tests/e2e && npm ci --no-audit --no-fund) || echo "e2e: npm ci failed; the e2e tests will skip"
	@$(MAKE) --no-print-directory $(BIN) $(TESTBIN)
	@RATHAUS_BIN=$(abspath $(BIN)) $(TESTBIN) $(T)

check: test

bench: deps
	@$(MAKE) --no-print-directory $(BIN)
	@RATHAUS_BIN=$(abspath $(BIN)) scripts/bench.sh
	@RATHAUS_BIN=$(abspath $(BIN)) scripts/bench_portal.sh
	@RATHAUS_BIN=$(abspath $(BIN)) scripts/bench_knowledge.sh

FUZZ_TIME ?= 30
fuzz: deps
	@scripts/deps.sh scripts/packages-fuzz.txt
	@scripts/fuzz.sh $(FUZZ_TIME)

clean:
	rm -rf build build-san build-fuzz

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
