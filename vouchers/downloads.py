"""The HTTP side of the voucher exports (`vouchers.exports`), shared by the admin and the API:
the content types, who sees customers' emails in full, and a file written whole before it is
sent."""

import tempfile
from collections.abc import Callable
from typing import IO

from django.http import FileResponse

from core.privacy import EMAIL, Level, pii_level

CSV = "text/csv"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PDF = "application/pdf"
PNG = "image/png"
SVG = "image/svg+xml"


def reveals_personal_data(user) -> bool:
    """Downloads carry the customers' emails in full only for who sees them in full."""
    return pii_level(user, EMAIL) is Level.FULL


def written_file(
    write: Callable[[IO[bytes]], None], *, content_type: str, filename: str | None = None
) -> FileResponse:
    """The file `write(out)` writes, from a temporary file the response closes once sent (an
    attachment named `filename`, when given)."""
    out = tempfile.TemporaryFile()  # noqa: SIM115 (FileResponse closes it)
    try:
        write(out)
    except BaseException:
        out.close()
        raise
    out.seek(0)
    if filename is None:
        return FileResponse(out, content_type=content_type)
    return FileResponse(out, as_attachment=True, filename=filename, content_type=content_type)
