#!/usr/bin/env python3
"""Writes sample/handbook.pdf, a five-page staff handbook for the demo, with `mutool create` (mupdf-tools).

Usage: scripts/make-sample-pdf.py [OUTPUT.pdf]
The text is the project's own; each page holds facts the demo asks about.
"""
import os
import subprocess
import sys
import tempfile
import textwrap

TITLE = "Northwind Traders Staff Handbook"
PAGES = [
    ("Welcome", [
        "Northwind Traders was founded in 1987 in Lisbon and today employs 420 people in six countries.",
        "This handbook explains the policies that apply to every employee. When a local contract says "
        "something different, the contract applies.",
        "Questions about this handbook go to the People team at people@northwind.example.",
    ]),
    ("Vacation and leave", [
        "Employees receive 25 days of paid vacation per year, in addition to public holidays.",
        "Up to 5 unused vacation days can be carried over to the next year; carried-over days expire on "
        "March 31.",
        "Parental leave is 20 weeks at full pay for every parent, and it can be taken in up to three blocks "
        "during the first two years.",
        "Sick leave does not need a doctor's note for the first three days of an absence.",
    ]),
    ("Remote work and equipment", [
        "Employees may work remotely for up to three days per week, agreed with their manager.",
        "Each employee receives a one-time home office allowance of 600 euros for a desk, a chair or a screen.",
        "Laptops are replaced every four years, or earlier when they fail.",
    ]),
    ("Travel and expenses", [
        "Business travel is booked through the travel portal at least 14 days in advance whenever possible.",
        "Receipts must be submitted within 30 days of the expense.",
        "The daily meal allowance (per diem) while travelling is 45 euros.",
        "Train travel is preferred over flights for journeys under five hours.",
    ]),
    ("Security", [
        "Passwords must be at least 14 characters long and must not be reused across services.",
        "Security incidents, including lost laptops and phishing emails, must be reported to "
        "security@northwind.example within 24 hours.",
        "Two-factor authentication is required for email, the travel portal and the payroll system.",
    ]),
]


def escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def page_stream(number: int, heading: str, paragraphs: list[str]) -> str:
    lines = ["%%MediaBox 0 0 595 842", "%%Font F1 Helvetica", "%%Font F2 Helvetica-Bold", "BT"]
    lines += ["/F2 18 Tf", "72 770 Td", f"({escape(heading)}) Tj", "/F1 11 Tf", "14 TL", "0 -30 Td"]
    for paragraph in paragraphs:
        for line in textwrap.wrap(paragraph, 85):
            lines.append(f"({escape(line)}) Tj T*")
        lines.append("T*")
    lines += ["ET", "BT", "/F1 9 Tf", "290 40 Td", f"({number}) Tj", "ET"]
    return "\n".join(lines) + "\n"


def main() -> None:
    output = sys.argv[1] if len(sys.argv) > 1 else "sample/handbook.pdf"
    os.makedirs(os.path.dirname(output) or ".", exist_ok=True)
    with tempfile.TemporaryDirectory() as work:
        files = []
        for number, (heading, paragraphs) in enumerate(PAGES, start=1):
            path = os.path.join(work, f"page{number}.txt")
            with open(path, "w", encoding="ascii") as handle:
                handle.write(page_stream(number, f"{TITLE}: {heading}" if number == 1 else heading, paragraphs))
            files.append(path)
        subprocess.run(["mutool", "create", "-o", output, *files], check=True)
    print(output)


if __name__ == "__main__":
    main()
