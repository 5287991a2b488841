"""End-to-end test infrastructure: real dockerd, registry, nginx, TLS certs for rendered deployments."""
