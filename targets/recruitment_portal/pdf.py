"""A tiny but valid one-page PDF, so bots have a real CV file to upload.

The portal checks the ``%PDF-`` signature and the size; generating the file
(with a correct cross-reference table) keeps binary fixtures out of the repo.
"""

from __future__ import annotations


def _escape(text: str) -> str:
    """Escape a string for a PDF literal; non-Latin-1 characters become ``?``."""
    safe = text.encode("latin-1", "replace").decode("latin-1")
    return safe.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def make_pdf(title: str, lines: tuple[str, ...] = ()) -> bytes:
    """A one-page A4 PDF showing ``title`` and ``lines`` in Helvetica."""
    text_ops = [f"BT /F1 18 Tf 72 770 Td ({_escape(title)}) Tj ET"]
    for number, line in enumerate(lines):
        text_ops.append(f"BT /F1 11 Tf 72 {740 - 16 * number} Td ({_escape(line)}) Tj ET")
    stream = "\n".join(text_ops).encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
        b"/Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref_at = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for offset in offsets:
        out += f"{offset:010d} 00000 n \n".encode()
    out += (
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref_at}\n%%EOF\n"
    ).encode()
    return bytes(out)
