"""Blueprints: one per feature. Views parse the form, call a service and render."""
