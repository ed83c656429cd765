"""Networks. They compute; they do not train themselves (no optimizer, loss or logging here)."""
from .layers import SUPPORTED_RESOLUTIONS
from .seed import SeedDiscriminator, SeedGenerator, count_parameters

__all__ = ["SUPPORTED_RESOLUTIONS", "SeedDiscriminator", "SeedGenerator", "count_parameters"]
