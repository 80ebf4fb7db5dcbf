"""The offline demo: sample feeds served on loopback."""
