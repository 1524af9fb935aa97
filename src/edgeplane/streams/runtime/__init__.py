"""Rule execution: streams and tables, the clock, event time, and the rule that ties them together."""
