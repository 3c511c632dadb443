# `make run`: set up and run the bot (the console demo when no chat platform is configured).
# `make test`: set up and run the whole test suite (ruff, mypy, pytest).
.PHONY: run test

run:
	scripts/setup
	.venv/bin/rrt run

test:
	scripts/test
