"""Networks. They compute; they do not train themselves (no optimizer, loss or logging here)."""
from .seed import SUPPORTED_RESOLUTIONS, SeedDiscriminator, SeedGenerator, count_parameters

__all__ = ["SUPPORTED_RESOLUTIONS", "SeedDiscriminator", "SeedGenerator", "count_parameters"]
