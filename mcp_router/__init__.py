"""Code shared by the router and the enhancer: generated stubs, breaker, serving, logging."""
