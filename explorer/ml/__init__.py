"""Models: spectrum autoencoder, IR posterior predictor, property heads, baselines, evaluation."""
