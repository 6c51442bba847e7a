"""Vision building blocks written from their formulas: resampling, upsampling layers, pooling."""
