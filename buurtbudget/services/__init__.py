"""Use cases. Each takes the acting user as a parameter, checks permissions, writes the audit
record and commits once. Services never read request globals, so the CLI and tests call them
exactly as the web views do."""
