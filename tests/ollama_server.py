"""A loopback HTTP server that speaks Ollama's wire protocol (filled in by the Ollama issue)."""
