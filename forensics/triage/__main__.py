"""``python -m forensics.triage PATH FOLDER DETECTIONS_JSON``: one triage item (``item.main``),
the process ``item.run_limited`` starts for each item."""

from __future__ import annotations

import sys

from forensics.triage.item import main

sys.exit(main())
