"""Administration: organisation tree, audit log, plugin switches."""
