#!/usr/bin/env bash
# OCR speed: rag's OCR (MuPDF renders, Tesseract's C API reads, one engine per thread) against the `tesseract`
# program run once per page on the same pages, side by side in one run.
#
# Usage: Benchmarks/scripts/ocr.sh [PAGES] [REPEATS]      (defaults: 20 pages, 3 repeats)
#
# The pages: PAGES pages of the Bash reference manual (Debian's bash-doc; scripts/fetch-eval-pdfs.sh installs it),
# rendered at 300 dpi in grayscale by mutool and wrapped as an image-only PDF: a clean scan whose text is known.
#   baseline      `tesseract page.png out --psm 1 -l eng` for each page's PNG, one after the other (Debian's build,
#                 its OpenMP threads as shipped); also with OMP_THREAD_LIMIT=1
#   rag, 1 thread `rag extract --ocr always --threads 1 scan.pdf`  (renders each page from the PDF, then reads it)
#   rag, 2 threads `rag extract --ocr always --threads 2 scan.pdf`
# Prints the median pages per second of each, the ratios to the baseline, and each run's peak resident memory.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

pages=${1:-20}
repeats=${2:-3}
[ -n "${SKIP_SETUP:-}" ] || bash Benchmarks/scripts/setup.sh >&2 || { echo "ocr.sh: setup failed" >&2; exit 1; }
if [[ -z ${RAG:-} ]]; then
  swift build -c release --product rag >&2 || { echo "ocr.sh: swift build -c release --product rag failed" >&2; exit 1; }
  rag="$(swift build -c release --show-bin-path)/rag"
else
  rag=$RAG
fi
[[ -x "$rag" ]] || { echo "ocr.sh: $rag is not an executable" >&2; exit 1; }
out="bench-data/ocr-$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$out"
command -v tesseract >/dev/null || { echo "ocr.sh: tesseract is not installed (scripts/setup.sh installs it)" >&2; exit 1; }
source_pdf=/usr/share/doc/bash/bashref.pdf
[[ -f "$source_pdf" ]] || bash scripts/fetch-eval-pdfs.sh "$(mktemp -d)" >/dev/null
[[ -f "$source_pdf" ]] || { echo "ocr.sh: $source_pdf is missing (Debian package bash-doc)" >&2; exit 1; }

work=$(mktemp -d /tmp/rag-ocr-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
first=20
last=$((first + pages - 1))
mutool draw -q -r 300 -c gray -o "$work/page-%03d.png" "$source_pdf" "$first-$last"

python3 - "$work" "$rag" "$repeats" "$out" <<'PY'
import glob, os, statistics, struct, subprocess, sys, time, zlib
sys.path.insert(0, "Benchmarks/scripts")
from common import write_targets

work, rag, repeats, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
pngs = sorted(glob.glob(os.path.join(work, "page-*.png")))

def png_gray(path):
    """Width, height and 8-bit gray rows of a PNG that mutool wrote (gray, 8 bits, not interlaced)."""
    data = open(path, "rb").read()
    pos, idat, width, height = 8, b"", 0, 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, color = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and color == 0, "expected 8-bit gray"
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw = zlib.decompress(idat)
    rows, prior, stride = [], bytearray(width), width + 1
    for y in range(height):
        f, line = raw[y * stride], bytearray(raw[y * stride + 1:(y + 1) * stride])
        for x in range(width):
            a = line[x - 1] if x else 0
            b, c = prior[x], prior[x - 1] if x else 0
            if f == 1: line[x] = (line[x] + a) & 255
            elif f == 2: line[x] = (line[x] + b) & 255
            elif f == 3: line[x] = (line[x] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c; pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line)); prior = line
    return width, height, b"".join(rows)

def write_scan_pdf(path):
    objects, kids = [], []
    def add(body):
        objects.append(body); return len(objects)
    catalog, tree = add(None), add(None)
    for png in pngs:
        w, h, pixels = png_gray(png)
        stream = zlib.compress(pixels, 6)
        image = add(b"<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceGray /BitsPerComponent 8 /Filter /FlateDecode /Length %d >>\nstream\n" % (w, h, len(stream)) + stream + b"\nendstream")
        pw, ph = w * 72 / 300, h * 72 / 300
        content = b"q %.2f 0 0 %.2f 0 0 cm /Im0 Do Q" % (pw, ph)
        contents = add(b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream")
        kids.append(add(b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 %.2f %.2f] /Resources << /XObject << /Im0 %d 0 R >> >> /Contents %d 0 R >>" % (tree, pw, ph, image, contents)))
    objects[catalog - 1] = b"<< /Type /Catalog /Pages %d 0 R >>" % tree
    objects[tree - 1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (b" ".join(b"%d 0 R" % k for k in kids), len(kids))
    out, offsets = bytearray(b"%PDF-1.7\n"), []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out)); out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1) + b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, catalog, xref)
    open(path, "wb").write(out)

scan = os.path.join(work, "scan.pdf")
write_scan_pdf(scan)

def run(command, env=None):
    """Wall seconds and the peak resident memory (MiB) of one child process."""
    start = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0: raise SystemExit(f"{command[0]} failed with status {child.returncode}")
    return time.perf_counter() - start, usage.ru_maxrss / 1024

def baseline(omp_limit=None):
    env = dict(os.environ)
    if omp_limit: env["OMP_THREAD_LIMIT"] = omp_limit
    else: env.pop("OMP_THREAD_LIMIT", None)
    start, peak = time.perf_counter(), 0.0
    for png in pngs:
        _, rss = run(["tesseract", png, "-", "--psm", "1", "-l", "eng"], env)
        peak = max(peak, rss)
    return time.perf_counter() - start, peak

def ours(threads):
    env = dict(os.environ); env.pop("OMP_THREAD_LIMIT", None)
    return run([rag, "extract", "--ocr", "always", "--threads", str(threads), "--ocr-max-pages", str(len(pngs)), scan], env)

variants = {
    "tesseract CLI per page (baseline)": lambda: baseline(),
    "tesseract CLI per page, OMP_THREAD_LIMIT=1": lambda: baseline("1"),
    "rag extract --ocr always, 1 thread": lambda: ours(1),
    "rag extract --ocr always, 2 threads": lambda: ours(2),
}
results = {name: [] for name in variants}
for _ in range(repeats):
    for name, variant in variants.items():  # interleaved, so drift on a shared machine hits every variant alike
        results[name].append(variant())
print(f"{len(pngs)} pages at 300 dpi, {repeats} runs each (median)")
base = statistics.median(len(pngs) / s for s, _ in results["tesseract CLI per page (baseline)"])
for name, runs in results.items():
    rate = statistics.median(len(pngs) / s for s, _ in runs)
    peak = max(m for _, m in runs)
    print(f"  {name:46s} {rate:6.3f} pages/s  x{rate / base:5.2f}  peak RSS {peak:6.0f} MiB")
# The targets are judged against the faster baseline, the program with OMP_THREAD_LIMIT=1.
rates = {name: statistics.median(len(pngs) / s for s, _ in runs) for name, runs in results.items()}
fair = max(rates["tesseract CLI per page (baseline)"], rates["tesseract CLI per page, OMP_THREAD_LIMIT=1"])
write_targets(out, "ocr", f"Benchmarks/scripts/ocr.sh {len(pngs)} {repeats}", [
    {"target": f"OCR, {threads} thread{'s' if threads > 1 else ''}: ≥ {need}× the tesseract program per page (the faster of as shipped and OMP_THREAD_LIMIT=1)",
     "figure": f"{rates[f'rag extract --ocr always, {threads} thread' + ('s' if threads > 1 else '')]:.3f} pages/s", "baseline": f"{fair:.3f} pages/s",
     "ratio": f"{rates[f'rag extract --ocr always, {threads} thread' + ('s' if threads > 1 else '')] / fair:.2f}×",
     "verdict": "met" if rates[f"rag extract --ocr always, {threads} thread" + ("s" if threads > 1 else "")] / fair >= need else "not met"}
    for threads, need in [(1, 1.0), (2, 1.8)]])
print(f"targets in {out}/targets.json")
PY
