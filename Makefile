# stocketl: real-time stock market ETL as small C filters.
#
#   make                 build every program into bin/
#   make run             the bronze job (pipelines/bronze.sh) once, on ./lake
#   make stock-etl       the job cron runs: bronze, then silver (pipelines/stock-etl.sh)
#   make silver          bronze's new rows upserted into silver (pipelines/silver.sh)
#   make backfill FROM=2024-01 TO=2024-03   intraday history, month by month
#   make compact         delta-compact of bronze and silver (ARGS=--vacuum: vacuum)
#                        (ARGS= passes options and symbols to each job)
#   make up / down       the local stack (PostgreSQL, S3 server, s3fs mount
#                        at var/lake), its configuration; make status
#   make ddl             create or update the PostgreSQL schema (stocketl-db migrate)
#   make spark-sql       spark-sql on the lake, with Delta (docker/, profile spark)
#   make test            C unit tests and BATS suites ("N passed, N failed")
#   make lint            layering rules (tests/lint-layers.sh), shellcheck, cppcheck
#   make ci              format-check, lint, fuzz smoke, test, sanitizer test
#   make DEVELOPER=1     add -Werror (CI does this)
#   make SANITIZE=1 test the same tests under ASan and UBSan (build/san/)
#   make fuzz            run every libFuzzer target for FUZZ_TIME seconds
#   make bench           benchmarks against DuckDB on the same data
#   make deps            install every Debian and npm package needed
#   make demo            the whole job offline, on recorded answers (demo/run.sh)
#   make install         PREFIX=/usr/local DESTDIR= (programs, man pages, and
#                        pipelines, conf/ and demo/ under $(PREFIX)/share/stocketl)

VERSION   = 0.1.0
PREFIX   ?= /usr/local
BINDIR   ?= $(PREFIX)/bin
MANDIR   ?= $(PREFIX)/share/man
SHAREDIR ?= $(PREFIX)/share/stocketl
DESTDIR  ?=

CC       ?= cc
CLANG    ?= clang
CFLAGS   ?= -O2 -g
STD       = -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE
WARN      = -Wall -Wextra -Wshadow -Wformat=2 -Wstrict-prototypes \
            -Wmissing-prototypes -Wpointer-arith -Wundef -Wvla \
            -Wwrite-strings -Wimplicit-fallthrough -Wcast-align
ifneq ($(DEVELOPER)$(CI),)
WARN     += -Werror
endif
LIBS      = -Wl,--as-needed -lcurl -lcjson -lzstd -lsnappy -lz -llz4 -lbrotlidec -lbrotlienc -lbrotlicommon -lm
# libpq's headers (only common/pg/ includes them): Debian keeps them apart.
PQ_INCLUDE := $(or $(shell pg_config --includedir 2>/dev/null),/usr/include/postgresql)

ifeq ($(SANITIZE),1)
O        ?= build/san
OUTBIN   ?= build/san/bin
SANFLAGS  = -fsanitize=address,undefined -fno-sanitize-recover=all \
            -fno-omit-frame-pointer
PROG_LIBS = $(LIBS)
else
O        ?= build/rel
OUTBIN   ?= bin
SANFLAGS  =
# The programs take the compression libraries (and snappy's libstdc++)
# from their static archives: loading and relocating them was about 1.5 ms
# of every start of a program that reads or writes Parquet.
PROG_LIBS = -Wl,--as-needed -lcurl -lcjson \
            -Wl,-Bstatic -lzstd -lsnappy -lz -llz4 -lbrotlidec -lbrotlicommon -lstdc++ \
            -Wl,-Bdynamic -lm
endif

# V=1 shows the full commands.
ifeq ($(V),1)
Q_CC =
Q_LD =
Q_AR =
else
Q_CC = @echo "  CC      $@";
Q_LD = @echo "  LD      $@";
Q_AR = @echo "  AR      $@";
endif

ALL_CFLAGS = $(STD) $(WARN) $(CFLAGS) $(SANFLAGS) -Icommon -isystem $(PQ_INCLUDE) \
             -DSTOCKETL_VERSION='"$(VERSION)"' -MMD -MP

COMMON_SRC = $(sort $(wildcard common/*/*.c))
COMMON_OBJ = $(COMMON_SRC:%.c=$(O)/%.o)
LIB        = $(O)/libstocketl.a

PROGRAMS   = $(sort $(notdir $(wildcard cmd/*)))
PROG_BINS  = $(PROGRAMS:%=$(OUTBIN)/%)
MAN1       = $(foreach p,$(PROGRAMS),$(wildcard cmd/$(p)/$(p).1))
MAN5       = $(wildcard common/man/*.5)
MAN7       = $(wildcard common/man/*.7)

UNIT_SRC   = $(sort $(wildcard tests/unit/test_*.c))
UNIT_BINS  = $(UNIT_SRC:tests/unit/%.c=$(O)/tests/%)

FUZZ_SRC   = $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BINS  = $(FUZZ_SRC:tests/fuzz/%.c=build/fuzz/%)
FUZZ_TIME ?= 60
FUZZ_SMOKE_TIME ?= 5

SHELL_FILES = $(shell git ls-files '*.sh' '*.bash' '*.bats' .ci/run tests/run tests/ci \
                bench/run 2>/dev/null | sort -u)
C_FILES     = $(shell git ls-files '*.c' '*.h' 2>/dev/null)

.PHONY: all run stock-etl silver compact backfill demo test lint format format-check ci fuzz fuzz-build fuzz-smoke bench \
        deps install uninstall clean up down status ddl spark-sql

all: $(PROG_BINS)

$(O)/%.o: %.c
	@mkdir -p $(dir $@)
	$(Q_CC)$(CC) $(ALL_CFLAGS) -c -o $@ $<

# The installed data directory is compiled into the configuration module, the
# one place that looks for it; the stamp holds it, so that another PREFIX
# rebuilds that object (and relinks the programs), nothing else.
PATHS_STAMP = $(O)/sharedir.stamp
$(PATHS_STAMP): FORCE
	@mkdir -p $(dir $@)
	@echo '$(SHAREDIR)' | cmp -s - $@ || echo '$(SHAREDIR)' >$@
$(O)/common/base/config.o: $(PATHS_STAMP)
$(O)/common/base/config.o: ALL_CFLAGS += -DSTOCKETL_SHAREDIR='"$(SHAREDIR)"'

# The commit the programs are built from, which the Parquet writer names in
# every file's created_by ("stocketl version 0.1.0 (build 1a2b3c4)", the
# form parquet.thrift asks for).  Only that object takes it, through a stamp
# as above: a new HEAD recompiles one file and relinks, nothing else.  Out
# of a git checkout (a tarball) the build part is left out, which readers
# of created_by take as a build not known, rather than a made-up hash.
BUILD_HASH := $(if $(wildcard .git),$(shell git rev-parse --short HEAD 2>/dev/null))
BUILD_STAMP = $(O)/build-hash.stamp
$(BUILD_STAMP): FORCE
	@mkdir -p $(dir $@)
	@echo '$(BUILD_HASH)' | cmp -s - $@ || echo '$(BUILD_HASH)' >$@
$(O)/common/parquet/parquet_write.o: $(BUILD_STAMP)
$(O)/common/parquet/parquet_write.o: ALL_CFLAGS += $(if $(BUILD_HASH),-DSTOCKETL_BUILD='"$(BUILD_HASH)"')
.PHONY: FORCE
FORCE:

$(LIB): $(COMMON_OBJ)
	@mkdir -p $(dir $@)
	@rm -f $@
	$(Q_AR)ar rcs $@ $^

# Each program is every .c file in its cmd/ directory, linked with the library.
# (The objects come from a function: in the rule itself, make would put the
# stem in place of the first '%' of every word, patsubst's pattern included.)
prog_objs = $(patsubst %.c,$(O)/%.o,$(wildcard cmd/$(1)/*.c))
.SECONDARY:
.SECONDEXPANSION:
$(OUTBIN)/%: $$(call prog_objs,$$*) $(LIB)
	@mkdir -p $(dir $@)
	$(Q_LD)$(CC) $(CFLAGS) $(SANFLAGS) -o $@ $(filter %.o,$^) $(LIB) $(PROG_LIBS)

$(O)/tests/%: $(O)/tests/unit/%.o $(LIB)
	@mkdir -p $(dir $@)
	$(Q_LD)$(CC) $(CFLAGS) $(SANFLAGS) -o $@ $< $(LIB) $(LIBS)

# The jobs, each through the job runner (pipelines/lib/runner.sh), with the
# programs just built; ARGS goes to the job: runner options (-q, --wait,
# --config FILE), then av-fetch options and symbols.
JOB_ENV = STOCKETL_BIN=$(abspath $(OUTBIN))
# A job's status 1 is a load that went through with records quarantined or
# checks warned: success to make, so that `make backfill ... && make silver`
# goes on (the run's summary line says it); any other status is make's
# error as it is ("Error 78").
JOB_OK = || { rc=$$?; [ $$rc -eq 1 ] || exit $$rc; }

run: all
	$(JOB_ENV) bash pipelines/bronze.sh $(ARGS) $(JOB_OK)

stock-etl: all
	$(JOB_ENV) bash pipelines/stock-etl.sh $(ARGS) $(JOB_OK)

silver: all
	$(JOB_ENV) bash pipelines/silver.sh $(ARGS) $(JOB_OK)

compact: all
	$(JOB_ENV) bash pipelines/compact.sh $(ARGS) $(JOB_OK)

backfill: all
	@test -n "$(FROM)" -a -n "$(TO)" || { echo "make backfill: set FROM and TO (YYYY-MM)" >&2; exit 64; }
	$(JOB_ENV) bash pipelines/backfill.sh $(FROM) $(TO) $(ARGS) $(JOB_OK)

# The whole job offline: recorded answers served on loopback, into a lake
# under var/demo/ (demo/run.sh; DEMO_DIR= elsewhere).
demo: all
	$(JOB_ENV) bash demo/run.sh $(if $(DEMO_DIR),--dir $(DEMO_DIR))

# The local stack (stack/stack.sh) and the database's schema.
up:
	@bash stack/stack.sh up

down:
	@bash stack/stack.sh down

status:
	@bash stack/stack.sh status

ddl: $(OUTBIN)/stocketl-db
	$(OUTBIN)/stocketl-db migrate

# Spark SQL with Delta on the bucket of the Docker setup (README.md, "Docker").
COMPOSE ?= docker compose
spark-sql:
	$(COMPOSE) -f docker/compose.yaml --profile spark run --rm spark

# TESTS_S3=0: without the second run of the Delta suites on s3fs (tests/run).
TESTS_S3 ?= 1
test: $(PROG_BINS) $(UNIT_BINS)
	@O=$(O) TESTS_SKIP="$(TESTS_SKIP)" TESTS_S3=$(TESTS_S3) STOCKETL_BIN=$(CURDIR)/$(OUTBIN) bash tests/run

# Fuzz targets: the library built with clang's fuzzer instrumentation.
FUZZ_CFLAGS = $(STD) $(WARN) -O1 -g -Icommon -isystem $(PQ_INCLUDE) -DSTOCKETL_VERSION='"$(VERSION)"' \
              -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all -MMD -MP
build/fuzz/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(Q_CC)$(CLANG) $(FUZZ_CFLAGS) -c -o $@ $<

build/fuzz/%: build/fuzz/obj/tests/fuzz/%.o $(COMMON_SRC:%.c=build/fuzz/obj/%.o)
	$(Q_LD)$(CLANG) -fsanitize=fuzzer,address,undefined -o $@ $^ $(LIBS)

# Parsers that live in a program's directory: their targets link those files too.
build/fuzz/fuzz_checks: build/fuzz/obj/cmd/tick-validate/checks_parse.o \
                        build/fuzz/obj/cmd/tick-validate/checks.o
build/fuzz/fuzz_watermarks: build/fuzz/obj/cmd/tick-normalize/watermarks.o

fuzz-build: $(FUZZ_BINS)

fuzz: fuzz-build
	@bash tests/fuzz/run $(FUZZ_TIME) $(FUZZ_BINS)

fuzz-smoke: fuzz-build
	@bash tests/fuzz/run $(FUZZ_SMOKE_TIME) $(FUZZ_BINS)

# docker/ is checked without a Docker engine: the compose file against the
# Compose Specification's schema and dclint's rules, the Dockerfile by the
# parser of dockerfile-utils (both from tests/node_modules).
NODE_BIN = tests/node_modules
# The layering rules come first: they are quick and name the file at fault.
# With V=1 they also print the folder graph of common/.
lint:
	bash tests/lint-layers.sh $(if $(filter 1,$(V)),-v)
	shellcheck -x $(SHELL_FILES)
	node $(NODE_BIN)/dclint/bin/dclint.cjs --max-warnings 0 docker/compose.yaml
	node $(NODE_BIN)/dockerfile-utils/bin/dockerfile-utils lint docker/Dockerfile
	cppcheck --quiet --error-exitcode=1 --std=c11 --inline-suppr \
	  --enable=warning,performance,portability \
	  --suppress=missingIncludeSystem -Icommon $(filter %.c,$(C_FILES))

format:
	clang-format -i $(C_FILES)

format-check:
	clang-format --dry-run --Werror $(C_FILES)

# The sanitizer pass leaves out the suites that drive the shell jobs, the
# local stack and the installation, the second run of the Delta suites on
# s3fs, the full bucket-side disk (whose failing writes, EIO and ENOSPC at
# each step, faults.bats injects under the sanitizers; what it adds is the
# servers' own behaviour) and the commit store on the bucket (whose C code,
# the store against a real PostgreSQL, test_pg_store and stocketl-db.bats
# run under the sanitizers): what they run of the C code the other suites
# run too, and they would double the time of make ci.
SAN_SKIP = tests/backfill.bats tests/build.bats tests/demo.bats tests/demo-data.bats \
           tests/helpers.bats tests/install.bats tests/pipeline.bats tests/runner.bats \
           tests/s3-faults.bats tests/s3-store.bats tests/stack.bats tests/tick-chart.bats
# The bucket's own suites: a stopped or full S3 server, mostly s3fs waiting
# out its retries.  make ci runs them beside the sanitizer pass, and then
# the second run of the Delta suites on s3fs (tests/ci).
S3_LANE = tests/s3-faults.bats tests/s3-store.bats
ci: format-check lint fuzz-smoke
	bash tests/ci "$(MAKE)" "$(SAN_SKIP)" "$(S3_LANE)"

# Benchmark drivers: bench/*.c, each one program linked with the library
# (built for bench/run, never installed).
BENCH_SRC  = $(sort $(wildcard bench/*.c))
BENCH_BINS = $(BENCH_SRC:bench/%.c=$(O)/bench/%)
$(O)/bench/%: $(O)/bench/%.o $(LIB)
	@mkdir -p $(dir $@)
	$(Q_LD)$(CC) $(CFLAGS) $(SANFLAGS) -o $@ $< $(LIB) $(LIBS) -lpthread

bench: all $(BENCH_BINS)
	BENCH_BIN=$(CURDIR)/$(O)/bench bash bench/run

deps:
	bash tests/helpers/deps.sh

# What the job needs outside the checkout: the programs and man pages, and
# under $(SHAREDIR) the pipelines, conf/ (the configuration template, the
# tables' schemas, the checks, the crontab and the systemd unit) and the
# demo, in the checkout's layout so that the pipelines find them beside
# themselves.
# (Never conf/stocketl.ini: it is this checkout's own, with its key.)
SHARE_FILES = $(wildcard pipelines/*.sh pipelines/lib/*.sh) conf/stocketl.ini.example \
              conf/crontab $(wildcard conf/tables/* conf/checks/* conf/systemd/*) \
              $(wildcard demo/*.* demo/recordings/*)

# The directories are quoted: a PREFIX or DESTDIR may hold a space, and
# unquoted, uninstall's rm -rf would take its first word for a directory.
install: all
	install -d "$(DESTDIR)$(BINDIR)" "$(DESTDIR)$(MANDIR)/man1" \
	  "$(DESTDIR)$(MANDIR)/man5" "$(DESTDIR)$(MANDIR)/man7"
	install -m 755 $(PROG_BINS) "$(DESTDIR)$(BINDIR)"
	install -m 644 $(MAN1) "$(DESTDIR)$(MANDIR)/man1"
	$(if $(MAN5),install -m 644 $(MAN5) "$(DESTDIR)$(MANDIR)/man5")
	$(if $(MAN7),install -m 644 $(MAN7) "$(DESTDIR)$(MANDIR)/man7")
	@for f in $(SHARE_FILES); do \
	  mode=644; case $$f in *.sh) mode=755 ;; esac; \
	  install -D -m $$mode $$f "$(DESTDIR)$(SHAREDIR)/$$f" || exit; \
	done
	@echo "  INSTALL $(DESTDIR)$(SHAREDIR): pipelines, conf, demo"

uninstall:
	rm -f $(foreach p,$(PROGRAMS),"$(DESTDIR)$(BINDIR)/$(p)") \
	  $(foreach m,$(notdir $(MAN1)),"$(DESTDIR)$(MANDIR)/man1/$(m)") \
	  $(foreach m,$(notdir $(MAN5)),"$(DESTDIR)$(MANDIR)/man5/$(m)") \
	  $(foreach m,$(notdir $(MAN7)),"$(DESTDIR)$(MANDIR)/man7/$(m)")
	rm -rf "$(DESTDIR)$(SHAREDIR)"

clean:
	rm -rf build bin

-include $(shell find build -name '*.d' 2>/dev/null)
