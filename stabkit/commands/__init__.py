"""CLI commands; ``common`` holds what they share (loading a netlist, --set, --json, tables)."""
