"""The student's side of the protocol: the prompt format it speaks, and it as a planner."""
