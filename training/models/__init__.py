"""Learned recommenders, one model per file, registered in ``training.registry``."""
