"""Teachers: planners that produce rollouts (the oracle offline, an LLM endpoint)."""
