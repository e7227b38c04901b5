"""Settlement (一站式结算, DOMAIN §6): the pure engine, its models, policy sets, the services that settle and
re-settle, and its admin."""
