"""The cloud side of edgeplane: the API server, its controllers and the hub that edge nodes connect to."""
