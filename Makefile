# lwjvm top-level targets. `make demo` and `make test` are the two entry points (see README.md).
#
#   make setup   apt packages (only the missing ones) + .venv with lwjvm installed editable + lwIP's
#                source (Debian's source package, kernel/tools/fetch_lwip.sh)
#                + make plugins
#   make plugins the Maven and Gradle plugins (and lwjvm-plugin-common, which both use) installed
#                into the local Maven repository
#   make kernel  kernel/build/kernel.elf (delegates to kernel/Makefile)
#   make test    setup + kernel, then pytest over tests/ and ruff
#   make demo    setup + kernel, then samples/hello (a Java app) built and run with `lwjvm run`
#   make bench   setup + kernel + bench-setup, then python -m lwjvm.bench, lwjvm.buildbench,
#                lwjvm.deploybench and lwjvm.baseline (lwjvm against a Linux guest; docs/bench.md)
#   make bench-setup  the bench's own packages (wrk); Debian's cloud kernel is fetched by
#                lwjvm.baseline itself into build/bench/linux (apt-get download, /etc/apt untouched)
#   make soak    setup + kernel, then the guest corpora once on 4 CPUs (make test: on 1 and 2),
#                smp_race repeated on 4
#                CPUs for SOAK_MINUTES, the ELF, boot.conf and volume parsers' fuzzing with a new seed
#                (host-compiled, and 300 mutants of each booted in the guest), and the guest
#                syscall fuzzer over new seeds on 1 and 2 CPUs for SOAK_MINUTES; then 300 kills of
#                QEMU while a program fsyncs records to a volume, and 100,000 files in one
#                directory of a volume

SHELL := /bin/bash
PYTHON ?= /usr/bin/python3
VENV := .venv
APT_PACKAGES := qemu-system-x86 e2fsprogs binutils strace gdb gcc libc6-dev make \
	openjdk-17-jdk-headless python3-venv maven gradle cpio libfuse3-dev fuse3 pkg-config \
	libsqlite3-dev
# libc6-dev is only a recommendation of gcc, and the tests link programs with -static.
# cpio checks the initramfs lwjvm/linuxguest.py writes for the bench's Linux guest.
# libfuse3-dev (with pkg-config) builds kernel/build/volfs-fuse, `lwjvm volume mount`; fuse3
# has fusermount3, which unmounts it. libsqlite3-dev: the SQLite program of the volume tests.
# Debian 12's openjdk-17-jdk-headless ships the jmods jlink needs; checked below.
JMODS := /usr/lib/jvm/java-17-openjdk-amd64/jmods/java.base.jmod
SETUP_STAMP := $(VENV)/.lwjvm-setup
DEMO_JAR := samples/hello/target/hello.jar
PYTEST_ARGS ?= -n auto

.PHONY: setup apt venv plugins lwip corpus kernel test demo bench bench-setup soak clean

setup: apt venv lwip plugins corpus

# lwIP's source from Debian's source package (a private apt configuration with a deb-src entry;
# /etc/apt is never touched), into kernel/third_party/lwip. Nothing to do when it is there.
lwip:
	@kernel/tools/fetch_lwip.sh

# Installs only what is missing; runs apt-get update only when something is.
apt:
	@missing=""; \
	for p in $(APT_PACKAGES); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" != 0 ]; then echo "make setup: need root to install:$$missing" >&2; exit 1; fi; \
		echo "make setup: installing$$missing"; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get update -q || exit 1; \
		apt-get install -y -q --no-install-recommends $$missing || exit 1; \
	fi; \
	test -f $(JMODS) || { echo "make setup: $(JMODS) missing (openjdk-17-jdk-headless should provide it)" >&2; exit 1; }

venv: $(SETUP_STAMP)

$(SETUP_STAMP): pyproject.toml | apt
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check -e '.[test]'
	touch $@

# The plugins go into Maven's local repository (its default place unless settings.xml moves it,
# then set M2_REPO), so any project can name them by coordinates. Offline first: after the first
# fetch from Maven Central a rebuild needs no network. Rebuilt only when their sources change.
M2_REPO ?= $(HOME)/.m2/repository
PLUGIN_VERSION := 0.1.0
COMMON_JAR := $(M2_REPO)/dev/lwjvm/lwjvm-plugin-common/$(PLUGIN_VERSION)/lwjvm-plugin-common-$(PLUGIN_VERSION).jar
MAVEN_PLUGIN_JAR := $(M2_REPO)/dev/lwjvm/lwjvm-maven-plugin/$(PLUGIN_VERSION)/lwjvm-maven-plugin-$(PLUGIN_VERSION).jar
MVN_INSTALL := mvn -B -q -Dstyle.color=never install -Dinvoker.skip=true
GRADLE_PLUGIN_JAR := $(M2_REPO)/dev/lwjvm/lwjvm-gradle-plugin/$(PLUGIN_VERSION)/lwjvm-gradle-plugin-$(PLUGIN_VERSION).jar
# Debian's gradle (4.4.1) needs nothing from the network for the plugin: only the Gradle API and
# lwjvm-plugin-common from the local repository.
GRADLE_PUBLISH := gradle -q --offline --no-daemon -Dmaven.repo.local=$(M2_REPO) publishToMavenLocal
# What the plugins' tests and samples/spring-boot build with, fetched once so later runs are
# offline (the stamp is redone when a POM changes).
MAVEN_DEPS_STAMP := $(VENV)/.lwjvm-maven-deps
MVN_GO_OFFLINE := mvn -B -q -Dstyle.color=never dependency:go-offline

plugins: $(COMMON_JAR) $(MAVEN_PLUGIN_JAR) $(GRADLE_PLUGIN_JAR) $(MAVEN_DEPS_STAMP)

# What both plugins share (the lwjvm command lines, the generated manifest, the run of lwjvm).
$(COMMON_JAR): plugins/common/pom.xml $(shell find plugins/common/src -type f 2>/dev/null) | apt
	@echo "make plugins: lwjvm-plugin-common $(PLUGIN_VERSION) -> $(M2_REPO)"
	cd plugins/common && { $(MVN_INSTALL) -o >/dev/null 2>&1 || $(MVN_INSTALL); }
	test -f $@ && touch $@

$(MAVEN_PLUGIN_JAR): plugins/maven/pom.xml $(shell find plugins/maven/src/main -type f 2>/dev/null) $(COMMON_JAR) | apt
	@echo "make plugins: lwjvm-maven-plugin $(PLUGIN_VERSION) -> $(M2_REPO)"
	cd plugins/maven && { $(MVN_INSTALL) -o >/dev/null 2>&1 || $(MVN_INSTALL); }
	test -f $@ && touch $@

$(GRADLE_PLUGIN_JAR): plugins/gradle/build.gradle plugins/gradle/settings.gradle $(shell find plugins/gradle/src -type f 2>/dev/null) $(COMMON_JAR) | apt
	@echo "make plugins: lwjvm-gradle-plugin $(PLUGIN_VERSION) (plugin id dev.lwjvm) -> $(M2_REPO)"
	cd plugins/gradle && $(GRADLE_PUBLISH) 2>&1 | grep -v -e '^openjdk version' -e '^OpenJDK ' ; test $${PIPESTATUS[0]} = 0
	test -f $@ && touch $@

$(MAVEN_DEPS_STAMP): plugins/maven/pom.xml plugins/maven/src/it/hello/pom.xml samples/spring-boot/pom.xml | $(MAVEN_PLUGIN_JAR) $(SETUP_STAMP)
	@echo "make plugins: fetching what the plugin tests and samples/spring-boot build with"
	cd samples/spring-boot && $(MVN_GO_OFFLINE)
	mvn -B -q -Dstyle.color=never dependency:get -Dartifact=org.apache.commons:commons-lang3:3.17.0
	cd plugins/maven && $(MVN_GO_OFFLINE)
	touch $@

# The real libraries the corpus tests run (tests/corpus/pom.xml) from Maven Central into
# tests/build/corpus/lib, and the Spring Boot CommandLineRunner (tests/corpus/spring) packed as
# Spring Boot's executable jar into tests/build/corpus/spring; offline first, nothing to do when
# neither changed since.
CORPUS_STAMP := tests/build/corpus/.fetched
MVN_CORPUS := mvn -B -q -Dstyle.color=never dependency:copy-dependencies \
	-DoutputDirectory=../build/corpus/lib
MVN_CORPUS_SPRING := mvn -B -q -Dstyle.color=never package
CORPUS_SPRING_SRC := $(shell find tests/corpus/spring/src -type f)

corpus: $(CORPUS_STAMP)

$(CORPUS_STAMP): tests/corpus/pom.xml tests/corpus/spring/pom.xml $(CORPUS_SPRING_SRC) | apt
	@echo "make corpus: tests/corpus/pom.xml -> tests/build/corpus/lib, tests/corpus/spring -> tests/build/corpus/spring"
	cd tests/corpus && { $(MVN_CORPUS) -o >/dev/null 2>&1 || $(MVN_CORPUS); }
	cd tests/corpus/spring && { $(MVN_CORPUS_SPRING) -o >/dev/null 2>&1 || $(MVN_CORPUS_SPRING); }
	touch $@

kernel: lwip
	$(MAKE) -C kernel

# ruff first, but a lint error does not stop the tests; either failing fails the target.
test: setup kernel
	@lint=0; $(VENV)/bin/ruff check lwjvm tests || lint=1; \
	$(VENV)/bin/pytest $(PYTEST_ARGS) tests || exit $$?; \
	if [ $$lint != 0 ]; then echo "make test: ruff check failed (above)" >&2; exit 1; fi

$(DEMO_JAR): $(wildcard samples/hello/src/hello/*.java) samples/hello/build.sh
	samples/hello/build.sh

demo: setup kernel $(DEMO_JAR)
	$(VENV)/bin/lwjvm run samples/hello/app.yaml

BENCH_APT_PACKAGES := wrk

# Installs only what is missing, like `apt` above.
bench-setup: setup
	@missing=""; \
	for p in $(BENCH_APT_PACKAGES); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" != 0 ]; then echo "make bench-setup: need root to install:$$missing" >&2; exit 1; fi; \
		echo "make bench-setup: installing$$missing"; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get update -q || exit 1; \
		apt-get install -y -q --no-install-recommends $$missing || exit 1; \
	fi

# deploybench: `lwjvm ps` with DEPLOY_VMS idle VMs, the memory of DEPLOY_COPIES of them against as
# many Linux guests of the same app.
DEPLOY_VMS ?= 20
DEPLOY_COPIES ?= 10
bench: setup kernel bench-setup
	$(VENV)/bin/python -m lwjvm.bench
	$(VENV)/bin/python -m lwjvm.buildbench
	$(VENV)/bin/python -m lwjvm.deploybench --vms $(DEPLOY_VMS) --copies $(DEPLOY_COPIES)
	$(VENV)/bin/python -m lwjvm.baseline

# The syscall fuzzer in the guest, 200,000 calls per seed, new seeds until the time is up; a failing
# seed is printed with how it ended and its last calls (docs/fuzzing.md).
SOAK_MINUTES ?= 60
soak: setup kernel
	LWJVM_SOAK=1 $(VENV)/bin/pytest -n 2 tests/guest/test_real_software.py
	LWJVM_GUEST_CPUS=4 $(VENV)/bin/pytest -n 2 tests/guest/test_guest_c.py tests/guest/test_guest_java.py
	LWJVM_SMP_SOAK_MINUTES=$(SOAK_MINUTES) $(VENV)/bin/pytest -n 1 tests/guest/test_smp.py -k soak
	seed=$$(date +%s); echo "make soak: parser fuzzing seed $$seed"; \
	LWJVM_SOAK=1 LWJVM_SOAK_SEED=$$seed LWJVM_MUTANT_SEED=$$seed LWJVM_MUTANTS=300 \
		$(VENV)/bin/pytest -n 2 tests/kernel/test_kernel_logic.py tests/guest/test_kernel_failures.py \
		tests/kernel/test_volfs.py -k "mutated or survive"
	$(VENV)/bin/python tests/guest/fuzz_soak.py --minutes $(SOAK_MINUTES) --cpus 1,2
	LWJVM_VOLUME_KILLS=300 $(VENV)/bin/pytest -n 1 tests/guest/test_volume_crash.py
	LWJVM_SOAK=1 $(VENV)/bin/pytest -n 1 tests/guest/test_volume_bigdir.py

clean:
	rm -rf build tests/build samples/hello/target plugins/maven/target samples/spring-boot/target \
		plugins/gradle/build plugins/gradle/sample/build plugins/gradle/sample/lib/build
	$(MAKE) -C kernel clean
