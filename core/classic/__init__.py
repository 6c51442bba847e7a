"""Classic machine learning: gradient-boosted trees, ensembles."""
