"""Customers: find, see, create and edit (spec §2.3, §3.3)."""
