"""Local developer tooling: stand-ins for external services and the `make dev` stack."""
