"""The world: scene graphs, the partial-observation simulator, the planning protocol, rollouts."""
