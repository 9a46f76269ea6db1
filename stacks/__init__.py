"""One stack per concern; stateful stacks (data, storage) apart from stateless ones."""
