"""Evidence packages for judicial requisitions: the clips as recorded, a manifest, a signature.

The package is a directory (and a ZIP of it, stored without compression, for download and
removable media): ``clips/`` holds the segment files byte for byte as the boxes recorded them
(lossless by construction), ``manifest.json`` describes each file (camera, location, UTC start and
end, frame count, size, SHA-256) with the request and who approved it, ``manifest.sig`` is the
Ed25519 signature of ``manifest.json`` by the centre's key, and ``centre.pub`` its public key.
``vigie-coordinator evidence verify PACKAGE`` checks all of it offline.
"""

from .errors import EvidenceError
from .keys import generate_key, load_private_key, public_key_pem
from .package import Segment, build_package, find_segments
from .verify import verify_package

__all__ = ["EvidenceError", "Segment", "build_package", "find_segments", "generate_key", "load_private_key",
           "public_key_pem", "verify_package"]
