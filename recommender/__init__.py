"""taskprof: pick local LLM profiles for a task and install them through Ollama."""
