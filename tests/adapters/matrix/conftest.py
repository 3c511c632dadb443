pytest_plugins = ["tests.fixtures.synapse"]
