#!/usr/bin/env python3
"""Writes the sample agent's PDF (assistant/sample/nova/content/club.pdf):
a plain PDF 1.4 of text pages in Helvetica, written by hand so the sample
needs no PDF library. Usage: make_pdf.py OUT.pdf"""
import sys

PAGES = [
    [
        "Nova Friends: our membership club",
        "",
        "Membership in Nova Friends costs 300 NOK a year.",
        "Members get 10 percent off every rental and a free ski waxing each winter.",
        "The membership card is valid for twelve months from the day you join.",
    ],
    [
        "Courses",
        "",
        "Our kayak safety course runs on Saturdays in June and costs 950 NOK.",
        "The course fee includes a wetsuit, a paddle and a guide for the day.",
    ],
]


def escape(s):
    return s.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def main(out):
    objects = []  # bodies, numbered from 1

    def add(body):
        objects.append(body)
        return len(objects)

    font = add(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
    pages_id = len(objects) + 1 + 2 * len(PAGES)  # after every page and its content
    kids = []
    for lines in PAGES:
        ops = ["BT", "/F1 14 Tf", "72 760 Td", "18 TL"]
        for line in lines:
            ops.append(f"({escape(line)}) Tj T*")
        ops.append("ET")
        stream = "\n".join(ops).encode("latin-1")
        content = add(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
        kids.append(
            add(
                b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 612 792] "
                b"/Resources << /Font << /F1 %d 0 R >> >> /Contents %d 0 R >>"
                % (pages_id, font, content)
            )
        )
    kids_ref = b" ".join(b"%d 0 R" % k for k in kids)
    assert add(b"<< /Type /Pages /Kids [" + kids_ref + b"] /Count %d >>" % len(kids)) == pages_id
    catalog = add(b"<< /Type /Catalog /Pages %d 0 R >>" % pages_id)
    data = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for i, body in enumerate(objects, 1):
        offsets.append(len(data))
        data += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(data)
    data += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for o in offsets:
        data += b"%010d 00000 n \n" % o
    data += b"trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        catalog,
        xref,
    )
    with open(out, "wb") as f:
        f.write(data)


if __name__ == "__main__":
    main(sys.argv[1])
