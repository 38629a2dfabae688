"""Inventory planning: demand over lead time from sample paths, order policies, plans, replay on history."""
