"""The scenarios that ship with Flywheel (TOML files beside this one)."""
