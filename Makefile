# kioskd build. `make` builds ./build/kioskd; `make run` and `make test` first
# install what is missing (tools/deps.sh). SAN=1 builds with ASan + UBSan.
# ARCH=arm64 cross-builds build/arm64/kioskd with Debian's aarch64 toolchain;
# `make test ARCH=arm64` runs the unit and integration tests on it under
# qemu-user, `make deb ARCH=arm64` packages it (docs/operations.md, "arm64").

CC       ?= cc
HOSTCC   ?= cc
SAN      ?= 0
ARCH     ?=
PKGS     := libwebsockets libcurl sqlite3 libqrencode expat jansson inih libargon2 libpng zlib libpq
PKG_CONFIG := pkg-config
PKG_LIBS  = $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null)
PKG_CFLAGS = $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
# How a built program is started: natively, or under qemu-user for arm64.
RUN      :=

ifeq ($(ARCH),arm64)
  ifeq ($(SAN),1)
    $(error SAN=1 is for native builds only, not with ARCH=arm64)
  endif
  TRIPLET := aarch64-linux-gnu
  MULTIARCH := /usr/lib/$(TRIPLET)
  ifeq ($(origin CC),default)
    CC    := $(TRIPLET)-gcc
  endif
  OUT    := build/arm64
  OPT    := -O2 -g
  # Debian 12's libwebsockets-dev and libpq-dev cannot be installed for two
  # architectures at once: the arm64 runtime libraries (libwebsockets17:arm64,
  # libpq5:arm64) are linked by name, with the native -dev package's headers
  # (the same version; they differ from arm64's only in LWS_INSTALL_LIBDIR and
  # pg_config.h, which kioskd does not read). The other libraries come from
  # their :arm64 -dev packages, through arm64's pkg-config directory.
  PKG_CONFIG := PKG_CONFIG_LIBDIR=$(MULTIARCH)/pkgconfig:/usr/share/pkgconfig pkg-config
  XPKGS  := $(filter-out libwebsockets libpq,$(PKGS))
  PKG_LIBS = $(shell $(PKG_CONFIG) --libs $(XPKGS) 2>/dev/null) \
             $(MULTIARCH)/libwebsockets.so.17 $(MULTIARCH)/libpq.so.5
  PKG_CFLAGS = $(shell $(PKG_CONFIG) --cflags $(XPKGS) 2>/dev/null) \
               $(shell pkg-config --cflags libwebsockets libpq 2>/dev/null)
  QEMU   ?= qemu-aarch64-static
  RUN    := env QEMU_LD_PREFIX=/ $(QEMU)
else ifneq ($(ARCH),)
  $(error ARCH=$(ARCH): only ARCH=arm64 (or none, native) is known)
else ifeq ($(SAN),1)
  OUT    := build/san
  OPT    := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
else
  OUT    := build/rel
  OPT    := -O2 -g
endif

WARN     := -Wall -Wextra -Werror -Wshadow -Wconversion -Wno-sign-conversion -Wstrict-prototypes -Wformat=2
CPPFLAGS += -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -I. -I$(OUT)/gen
CFLAGS   += -std=c17 $(OPT) $(WARN) -pthread $(PKG_CFLAGS)
LDLIBS   += $(PKG_LIBS) -lmbedtls -lmbedx509 -lmbedcrypto -lcsv -lev -lm -pthread
LDFLAGS  += $(filter -fsanitize=%,$(OPT))

LIB_SRC  := $(sort $(wildcard core/*.c store/*.c handlers/*.c daemon/*.c))
LIB_SRC  := $(filter-out daemon/main.c,$(LIB_SRC))
LIB_OBJ  := $(LIB_SRC:%.c=$(OUT)/obj/%.o) $(OUT)/obj/gen/migrations.o $(OUT)/obj/gen/web.o \
            $(OUT)/obj/gen/templates.o $(OUT)/obj/gen/hq_migrations.o
MIGRATIONS := $(sort $(wildcard store/migrations/*.sql))
HQ_MIGRATIONS := $(sort $(wildcard store/hq_migrations/*.sql))
TEMPLATES  := $(sort $(wildcard templates/*.mustache))
WEB      := $(sort $(shell find web -type f ! -name '.*' 2>/dev/null))
UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(OUT)/tests/%)
BIN      := $(OUT)/kioskd

.PHONY: all deb deps docs fuzz FORCE run soak test test-arm64 test-failalloc bench clean fmt lint check-pkgs

ifeq ($(ARCH),arm64)
# build/kioskd stays the native binary; the arm64 one is build/arm64/kioskd, and
# build/arm64/kioskd-qemu starts it under qemu-user on this machine.
all: $(BIN) $(OUT)/kioskd-qemu

$(OUT)/kioskd-qemu: Makefile
	@mkdir -p $(dir $@)
	@printf '#!/bin/sh\n# %s, run under qemu-user (make ARCH=arm64)\nexec %s "$$(dirname "$$0")/kioskd" "$$@"\n' \
	  "$(BIN)" "$(RUN)" >$@ && chmod 0755 $@

check-pkgs:
	@command -v $(CC) >/dev/null && $(PKG_CONFIG) --exists $(XPKGS) && pkg-config --exists libwebsockets libpq && \
	  for f in libwebsockets.so.17 libpq.so.5 libmbedcrypto.so libcsv.so libcmocka.so libev.so; do \
	    test -f $(MULTIARCH)/$$f || exit 1; done || \
	  { echo "kioskd: arm64 build dependencies are missing; run 'make deps ARCH=arm64'" >&2; exit 1; }
else
all: build/kioskd

# build/kioskd is the binary the contract names; it links to the flavour just built.
build/kioskd: $(BIN) FORCE
	@ln -sf $(patsubst build/%,%,$(BIN)) $@

check-pkgs:
	@pkg-config --exists $(PKGS) && test -f /usr/include/mbedtls/ecdsa.h && test -f /usr/include/csv.h || \
	  { echo "kioskd: build dependencies are missing; run 'make deps' (or 'make run' / 'make test')" >&2; exit 1; }
endif

$(OUT)/obj/%.o: %.c | check-pkgs
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c $< -o $@

$(OUT)/tools/embed: tools/embed.c
	@mkdir -p $(dir $@)
	$(HOSTCC) -std=c17 -O1 -Wall -Wextra -Werror -o $@ $<

$(OUT)/gen/migrations.c: $(OUT)/tools/embed $(MIGRATIONS)
	@mkdir -p $(dir $@)
	$(OUT)/tools/embed $@ embedded_migrations store/migrations/ $(MIGRATIONS)

$(OUT)/gen/templates.c: $(OUT)/tools/embed $(TEMPLATES)
	@mkdir -p $(dir $@)
	$(OUT)/tools/embed $@ embedded_templates templates/ $(TEMPLATES)

$(OUT)/gen/hq_migrations.c: $(OUT)/tools/embed $(HQ_MIGRATIONS)
	@mkdir -p $(dir $@)
	$(OUT)/tools/embed $@ embedded_hq_migrations store/hq_migrations/ $(HQ_MIGRATIONS)

# Third-party browser scripts: pinned in tools/web/package-lock.json, copied
# out of node_modules into build/web/assets/ and embedded beside web/assets/.
WEB_VENDOR := build/web/assets/jsQR.js build/web/assets/jsQR.LICENSE.txt

$(WEB_VENDOR) &: tools/web/package.json tools/web/package-lock.json
	@test tools/web/node_modules/.package-lock.json -nt tools/web/package-lock.json || \
	  npm ci --prefix tools/web --no-audit --no-fund --loglevel=error
	@mkdir -p build/web/assets
	cp tools/web/node_modules/jsqr/dist/jsQR.js build/web/assets/jsQR.js
	cp tools/web/node_modules/jsqr/LICENSE build/web/assets/jsQR.LICENSE.txt

# web/ and the vendored files are staged in one folder so that one prefix names them.
$(OUT)/gen/web.c: $(OUT)/tools/embed $(WEB) $(WEB_VENDOR) Makefile
	@mkdir -p $(dir $@)
	@rm -rf $(OUT)/web && mkdir -p $(OUT)/web && cp -R web/. build/web/. $(OUT)/web/
	$(OUT)/tools/embed $@ embedded_web $(OUT)/web/ \
	  $(patsubst web/%,$(OUT)/web/%,$(WEB)) $(patsubst build/web/%,$(OUT)/web/%,$(WEB_VENDOR))

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

# Each libFuzzer target built with tests/fuzz/replay.c instead of libFuzzer, with
# this build's compiler and flags: `make test` replays its seed corpus (tests/run.py).
REPLAY_SRC := $(sort $(wildcard tests/fuzz/fuzz_*.c))
REPLAY_BIN := $(REPLAY_SRC:tests/fuzz/%.c=$(OUT)/fuzz-replay/%)

$(OUT)/fuzz-replay/replay.o: tests/fuzz/replay.c
	@mkdir -p $(dir $@)
	@$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

$(OUT)/fuzz-replay/%: tests/fuzz/%.c $(OUT)/fuzz-replay/replay.o $(OUT)/libkioskd.a
	@echo "  REPLAY  $@"
	@$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< $(OUT)/fuzz-replay/replay.o \
	  $(OUT)/libkioskd.a $(LDLIBS)

# fsync made slow on purpose (bench/slowfsync.c), for the durability tests
$(OUT)/slowfsync.so: bench/slowfsync.c
	@echo "  LIB     $@"
	@$(CC) -std=c17 -O2 -Wall -Wextra -Werror -fPIC -shared -o $@ $< -ldl

# allocations made to fail on purpose (tests/failalloc.c), for the fault tests
$(OUT)/failalloc.so: tests/failalloc.c
	@mkdir -p $(dir $@)
	@echo "  LIB     $@"
	@$(CC) -std=c17 -O2 -Wall -Wextra -Werror -fPIC -shared -o $@ $<

# memory and descriptors leaked on purpose (tests/leak.c), to prove the soak fails on a leak
$(OUT)/leak.so: tests/leak.c
	@mkdir -p $(dir $@)
	@echo "  LIB     $@"
	@$(CC) -std=c17 -O2 -Wall -Wextra -Werror -fPIC -shared -o $@ $< -ldl

deps:
	@sh tools/deps.sh build
	@test "$(ARCH)" != arm64 || sh tools/deps.sh arm64

run:
	@sh tools/deps.sh build
	@$(MAKE) --no-print-directory all
	./build/kioskd serve --demo $(ARGS)

# The Mustache spec test files, beside the repository as in CI (tests/unit/test_mustache.c).
MUSTACHE_SPEC ?= $(abspath ../shared/conformance/mustache-spec)

ifeq ($(ARCH),arm64)
# The unit and integration tests on the arm64 build, under qemu-user (lint and
# the browser tests check nothing that depends on the architecture). Tests
# too slow under emulation say SKIP with the reason (harness.EMULATED).
test:
	@sh tools/deps.sh test
	@sh tools/deps.sh arm64
	@$(MAKE) --no-print-directory ARCH=arm64 all $(UNIT_BIN) $(OUT)/slowfsync.so $(OUT)/failalloc.so
	@KIOSKD_BIN=$(abspath $(OUT)/kioskd-qemu) KIOSKD_UNIT_DIR=$(abspath $(OUT)/tests) \
	  KIOSKD_EXE=$(abspath $(BIN)) KIOSKD_RUNNER="$(RUN)" KIOSKD_EMULATED="arm64 under $(QEMU)" \
	  DEB_ARCH=arm64 DEB_HOST_ARCH=arm64 STRIP=$(TRIPLET)-strip \
	  KIOSKD_CONFORMANCE=$${KIOSKD_CONFORMANCE:-$(abspath ../shared/conformance)} \
	  KIOSKD_MUSTACHE_SPEC=$(MUSTACHE_SPEC) \
	  KIOSKD_SLOWFSYNC=$(abspath $(OUT)/slowfsync.so) \
	  KIOSKD_FAILALLOC_LIB=$(abspath $(OUT)/failalloc.so) \
	  python3 tests/run.py --no-e2e $(if $(J),-j $(J)) $(T)
else
# Every test: lint, unit (cmocka), integration (the real binary over HTTP), e2e.
# J=N: at most N test jobs at once (default 2 per CPU; docs/testing.md); J=1 runs them in turn.
test:
	@sh tools/deps.sh test
	@$(MAKE) --no-print-directory lint
	@test tests/e2e/node_modules/.package-lock.json -nt tests/e2e/package-lock.json || \
	  npm ci --prefix tests/e2e --no-audit --no-fund --loglevel=error
	@$(MAKE) --no-print-directory all $(UNIT_BIN) $(REPLAY_BIN) $(OUT)/slowfsync.so $(OUT)/failalloc.so
	@KIOSKD_BIN=$(abspath $(BIN)) KIOSKD_UNIT_DIR=$(abspath $(OUT)/tests) SAN=$(SAN) \
	  KIOSKD_REPLAY_DIR=$(abspath $(OUT)/fuzz-replay) \
	  KIOSKD_CONFORMANCE=$${KIOSKD_CONFORMANCE:-$(abspath ../shared/conformance)} \
	  KIOSKD_MUSTACHE_SPEC=$(MUSTACHE_SPEC) \
	  KIOSKD_SLOWFSYNC=$(abspath $(OUT)/slowfsync.so) \
	  KIOSKD_FAILALLOC_LIB=$(abspath $(OUT)/failalloc.so) \
	  python3 tests/run.py $(if $(J),-j $(J)) $(T)
endif

test-arm64:
	@$(MAKE) --no-print-directory ARCH=arm64 test

# The integration tests with allocation failures spread through every daemon they
# start (docs/testing.md): `make test-failalloc FAILALLOC=every=5000`. Tests that
# expect exact answers may fail; a crash, hang or lost change is a bug.
FAILALLOC ?= every=5000
test-failalloc:
	@sh tools/deps.sh test
	@$(MAKE) --no-print-directory all $(OUT)/slowfsync.so $(OUT)/failalloc.so
	@KIOSKD_BIN=$(abspath $(BIN)) SAN=$(SAN) \
	  KIOSKD_SLOWFSYNC=$(abspath $(OUT)/slowfsync.so) \
	  KIOSKD_FAILALLOC_LIB=$(abspath $(OUT)/failalloc.so) \
	  KIOSKD_FAILALLOC_SPREAD=$(FAILALLOC) \
	  python3 tests/run.py --integration-only $(if $(J),-j $(J)) $(T)

# The soak (bench/soak.py): SOAK_MIN minutes of mixed load, RSS and descriptors sampled each
# minute, exit 1 unless flat after warm-up; its 2-minute version is tests/integration/test_soak.py.
SOAK_MIN ?= 30
soak:
	@sh tools/deps.sh test
	@$(MAKE) --no-print-directory all SAN=0 build/rel/leak.so
	@SOAK_MIN=$(SOAK_MIN) KIOSKD_BIN=$(abspath build/rel/kioskd) nice -n 10 python3 bench/soak.py

ifeq ($(ARCH),arm64)
# The same benchmarks on build/arm64/kioskd under qemu-user, each beside the
# native figure of the same run with the slowdown (bench/arm64.py, about 15 min).
bench:
	@sh tools/deps.sh bench
	@sh tools/deps.sh arm64
	@$(MAKE) --no-print-directory ARCH= SAN=0 all
	@$(MAKE) --no-print-directory ARCH=arm64 all $(OUT)/slowfsync.so
	@$(MAKE) --no-print-directory -C bench arm64 KIOSKD=../build/rel/kioskd
else
bench:
	@sh tools/deps.sh bench
	@$(MAKE) --no-print-directory all SAN=0
	@$(MAKE) --no-print-directory -C bench
endif

# The Debian package: build/deb/kioskd_VERSION_ARCH.deb (tools/mkdeb.sh: the binary,
# deploy/kioskd.service, deploy/kioskd.conf as /etc/kioskd/kioskd.conf), then lintian.
# The binary is built apart in build/pkg with Debian's hardening flags (fortify,
# stack protector, full RELRO, bind now), as dpkg-buildflags gives them.
# ARCH=arm64: built in build/pkg-arm64 with arm64's flags, stripped by the cross
# binutils, its version read under qemu-user, its Depends from the :arm64 libraries.
ifeq ($(ARCH),arm64)
DEB_OUT  := build/pkg-arm64
DEB_ENV  := export DEB_HOST_ARCH=arm64 DEB_ARCH=arm64 STRIP=$(TRIPLET)-strip KIOSKD_RUNNER="$(RUN)";
else
DEB_OUT  := build/pkg
DEB_ENV  :=
endif

deb:
	@sh tools/deps.sh deb
	@test "$(ARCH)" != arm64 || sh tools/deps.sh arm64
	@$(DEB_ENV) export DEB_BUILD_MAINT_OPTIONS=hardening=+all && \
	  CFLAGS="$$(dpkg-buildflags --get CFLAGS)" CPPFLAGS="$$(dpkg-buildflags --get CPPFLAGS)" \
	  LDFLAGS="$$(dpkg-buildflags --get LDFLAGS)" \
	  $(MAKE) --no-print-directory SAN=0 OUT=$(DEB_OUT) $(DEB_OUT)/kioskd
	@$(DEB_ENV) arch=$${DEB_ARCH:-$$(dpkg --print-architecture)} && rm -f build/deb/kioskd_*_$$arch.deb && \
	  deb=$$(sh tools/mkdeb.sh $(DEB_OUT)/kioskd build/deb) && \
	  echo "  DEB     $$deb ($$(stat -c %s $$deb) bytes)" && \
	  lintian --info --fail-on error $$deb

# Regenerates the option table in docs/config.md from the daemon's own table.
docs: build/kioskd
	@python3 -c 'import re,subprocess,sys; p="docs/config.md"; s=open(p).read(); t=subprocess.run(["./build/kioskd","check-config","--doc"],capture_output=True,text=True,check=True).stdout; s=re.sub(r"(<!-- generated: [^\n]*-->\n).*?(<!-- end generated -->)", lambda m: m.group(1)+t+m.group(2), s, flags=re.S); open(p,"w").write(s)'

# libFuzzer targets (clang): each tests/fuzz/fuzz_NAME.c runs FUZZ_S seconds on a
# scratch copy of tests/fuzz/corpus/NAME; crashes are left in build/fuzz/.
# FUZZ_T=NAME runs only tests/fuzz/fuzz_NAME.c.
FUZZ_S    ?= 30
FUZZ_T    ?= *
FUZZ_SRC  := $(sort $(wildcard tests/fuzz/fuzz_$(FUZZ_T).c))
FUZZ_LIB  := $(LIB_SRC) build/rel/gen/migrations.c build/rel/gen/hq_migrations.c \
             build/rel/gen/web.c build/rel/gen/templates.c

FUZZ_BIN  := $(FUZZ_SRC:tests/fuzz/%.c=build/fuzz/%)
FUZZ_CC   := clang -g -O1 -fsanitize=fuzzer-no-link,address,undefined -std=c17 $(CPPFLAGS) \
             -Ibuild/rel/gen $(shell pkg-config --cflags $(PKGS) 2>/dev/null)

# The library is built once, instrumented; each target links against it.
build/fuzz/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  FUZZCC  $<"
	@$(FUZZ_CC) -MMD -MP -c $< -o $@

build/fuzz/libkioskd.a: $(FUZZ_LIB:%.c=build/fuzz/obj/%.o)
	@rm -f $@ && ar rcs $@ $^

build/fuzz/fuzz_%: tests/fuzz/fuzz_%.c build/fuzz/libkioskd.a
	@echo "  FUZZLD  $@"
	@$(FUZZ_CC) -fsanitize=fuzzer -o $@ $< build/fuzz/libkioskd.a $(LDLIBS)

-include $(wildcard build/fuzz/obj/*/*.d)

fuzz:
	@sh tools/deps.sh fuzz
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory $(FUZZ_BIN)
	@for bin in $(FUZZ_BIN); do \
	  name=$$(basename $$bin); short=$${name#fuzz_}; \
	  echo "  FUZZ    $$name ($(FUZZ_S) s)"; \
	  dict=; test -f tests/fuzz/$$short.dict && dict=-dict=../../tests/fuzz/$$short.dict; \
	  mkdir -p build/fuzz/corpus-$$short; \
	  ( cd build/fuzz && ./$$name -max_total_time=$(FUZZ_S) -print_final_stats=1 $$dict \
	      corpus-$$short ../../tests/fuzz/corpus/$$short 2>&1 | \
	      grep -E "(DONE +cov|stat::number_of_executed_units|stat::peak_rss|==[0-9]+==ERROR|SUMMARY)" ) ; \
	  test -z "$$(ls build/fuzz/crash-* build/fuzz/leak-* build/fuzz/timeout-* 2>/dev/null)" || \
	    { echo "fuzz: $$name found a problem (build/fuzz/)"; exit 1; }; \
	done

clean:
	rm -rf build

# The files `fmt` formats and `lint` checks the format of.
FMT_SRC  := $(LIB_SRC) daemon/main.c $(wildcard core/*.h store/*.h handlers/*.h daemon/*.h) $(UNIT_SRC)

fmt:
	clang-format -i $(FMT_SRC)

# Banned calls (tools/checksrc.py), clang-format clean, cppcheck; `make test` runs it first.
lint:
	@echo "  LINT    checksrc"
	@python3 tools/checksrc.py
	@echo "  LINT    clang-format"
	@clang-format --dry-run -Werror $(FMT_SRC)
	@echo "  LINT    cppcheck"
	@cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
	  --suppress=missingIncludeSystem -I. $(LIB_SRC) daemon/main.c

-include $(shell find build -name '*.d' 2>/dev/null)
