"""The one pipeline both front ends use: the stage order, what runs after an analysis, the map
refit or placement, model switching and retraining."""
