"""pceval: the dedicated partner contact evaluation stream for men's behaviour change programs."""

__version__ = "0.1.0"
