"""Where the tests find the authors' real data: $GRADCORR_SHARED_DATA, else ../shared/data beside the project.

It is never committed; tests that need it are skipped, saying why, when it is absent.
"""

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHARED_DATA = Path(os.environ.get("GRADCORR_SHARED_DATA", ROOT.parent / "shared" / "data"))
INVIVO = SHARED_DATA / "invivo"
