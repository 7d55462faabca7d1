"""Where the time goes per route: request marks the sampler reads, routes, request figures."""
