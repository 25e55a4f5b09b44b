# The two commands. Both install whatever is missing first (scripts/setup.sh).
.PHONY: run test

# Run keyhatch for your account; flags go in ARGS, e.g. make run ARGS="--home /tmp/try".
run:
	@scripts/run.sh $(ARGS)

# Run every test.
test:
	@scripts/test.sh
