"""Scene and task generators: procedural (offline) and LLM (TaskGraphGen)."""
