"""Benchmarks with ground truth and studies: PacGAN's 2-D mixtures (toy2d, with GAN Lab-style frames), hyperparameter
sweeps over them, and the seed study. Each builds its networks through train/build.py, as every run does."""
