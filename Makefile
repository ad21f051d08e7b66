# kioskd build. `make` builds ./build/kioskd; `make run` and `make test` first
# install what is missing (tools/deps.sh). SAN=1 builds with ASan + UBSan.

CC       ?= cc
SAN      ?= 0
PKGS     := libwebsockets libcurl sqlite3 libqrencode expat jansson inih libargon2 libpng

ifeq ($(SAN),1)
  OUT    := build/san
  OPT    := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
else
  OUT    := build/rel
  OPT    := -O2 -g
endif

WARN     := -Wall -Wextra -Werror -Wshadow -Wconversion -Wno-sign-conversion -Wstrict-prototypes -Wformat=2
CPPFLAGS += -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -I. -I$(OUT)/gen
CFLAGS   += -std=c17 $(OPT) $(WARN) -pthread $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS   += $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lmbedtls -lmbedx509 -lmbedcrypto -lm -pthread
LDFLAGS  += $(filter -fsanitize=%,$(OPT))

LIB_SRC  := $(sort $(wildcard core/*.c store/*.c handlers/*.c daemon/*.c))
LIB_SRC  := $(filter-out daemon/main.c,$(LIB_SRC))
LIB_OBJ  := $(LIB_SRC:%.c=$(OUT)/obj/%.o) $(OUT)/obj/gen/migrations.o $(OUT)/obj/gen/web.o
MIGRATIONS := $(sort $(wildcard store/migrations/*.sql))
WEB      := $(sort $(shell find web -type f ! -name '.*' 2>/dev/null))
UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(OUT)/tests/%)
BIN      := $(OUT)/kioskd

.PHONY: all deps FORCE run test unit integration bench fuzz clean fmt lint check-pkgs

all: build/kioskd

# build/kioskd is the binary the contract names; it links to the flavour just built.
build/kioskd: $(BIN) FORCE
	@ln -sf $(patsubst build/%,%,$(BIN)) $@

check-pkgs:
	@pkg-config --exists $(PKGS) && test -f /usr/include/mbedtls/ecdsa.h || \
	  { echo "kioskd: build dependencies are missing; run 'make deps' (or 'make run' / 'make test')" >&2; exit 1; }

$(OUT)/obj/%.o: %.c | check-pkgs
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c $< -o $@

$(OUT)/tools/embed: tools/embed.c
	@mkdir -p $(dir $@)
	$(CC) -std=c17 -O1 -Wall -Wextra -Werror -o $@ $<

$(OUT)/gen/migrations.c: $(OUT)/tools/embed $(MIGRATIONS)
	@mkdir -p $(dir $@)
	$(OUT)/tools/embed $@ embedded_migrations store/migrations/ $(MIGRATIONS)

$(OUT)/gen/web.c: $(OUT)/tools/embed $(WEB) Makefile
	@mkdir -p $(dir $@)
	$(OUT)/tools/embed $@ embedded_web web/ $(WEB)

$(OUT)/obj/gen/%.o: $(OUT)/gen/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -std=c17 $(OPT) -c $< -o $@

$(OUT)/libkioskd.a: $(LIB_OBJ)
	@rm -f $@
	@ar rcs $@ $^

$(BIN): $(OUT)/obj/daemon/main.o $(OUT)/libkioskd.a
	@echo "  LINK    $@"
	@$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(OUT)/tests/%: tests/unit/%.c $(OUT)/libkioskd.a
	@mkdir -p $(dir $@)
	@echo "  TEST    $@"
	@$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< $(OUT)/libkioskd.a $(LDLIBS) -lcmocka

deps:
	@sh tools/deps.sh build

run:
	@sh tools/deps.sh build
	@$(MAKE) --no-print-directory all
	./build/kioskd serve --demo $(ARGS)

# Every test: unit (cmocka) then integration (the real binary over HTTP).
test:
	@sh tools/deps.sh test
	@$(MAKE) --no-print-directory all $(UNIT_BIN)
	@KIOSKD_BIN=$(abspath $(BIN)) KIOSKD_UNIT_DIR=$(abspath $(OUT)/tests) SAN=$(SAN) \
	  python3 tests/run.py $(T)

bench:
	@sh tools/deps.sh bench
	@$(MAKE) --no-print-directory all SAN=0
	@$(MAKE) --no-print-directory -C bench

clean:
	rm -rf build

fmt:
	clang-format -i $(LIB_SRC) daemon/main.c $(wildcard core/*.h store/*.h handlers/*.h daemon/*.h) $(UNIT_SRC)

lint:
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
	  --suppress=missingIncludeSystem -I. $(LIB_SRC) daemon/main.c

-include $(shell find build -name '*.d' 2>/dev/null)
