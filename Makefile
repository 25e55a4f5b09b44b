# The two commands. Both install whatever is missing first (scripts/setup.sh).
.PHONY: run test bench fuzz dist install uninstall

# Run keyhatch for your account; flags go in ARGS, e.g. make run ARGS="--home /tmp/try".
run:
	@scripts/run.sh $(ARGS)

# Run every test.
test:
	@scripts/test.sh

# Measure keyhatch beside ssh-keygen and print the README's Performance table (~6 min).
bench:
	@scripts/bench.sh

# Heavier than the tests: fuzz the parsers for SECONDS (default 60) with cargo fuzz.
fuzz:
	@scripts/fuzz.sh $(SECONDS)

# What keyhatch ships, in target/dist/: the static binary's archive, the .deb and the .rpm.
dist:
	@scripts/dist.sh

# What make dist built, under PREFIX (default /usr/local) and DESTDIR; needs no build tools.
# Then: keyhatch check-config; systemctl daemon-reload; systemctl enable --now keyhatch.
install:
	@scripts/install.sh install

# Removes what make install installed (PREFIX and DESTDIR as given to it), but the settings file.
uninstall:
	@scripts/install.sh uninstall
