"""The front ends: the MCP server and the command line, both derived from one table of operations."""
