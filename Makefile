# The two commands. Both install whatever is missing first (scripts/setup.sh).
.PHONY: run test bench fuzz install

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

# Site mode on this machine, as root: the binary and its bundle under PREFIX, the settings file
# (kept if present) and the systemd unit. Then: systemctl enable --now keyhatch.
install:
	@scripts/install.sh $(PREFIX)
