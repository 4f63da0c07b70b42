#!/usr/bin/env python3
"""Drives the rag-server chat page in a real headless Chromium (Debian `chromium` + `chromium-driver`, selenium).

Against a running server (started with `--llm extractive` and an empty collection) it:
  1. loads the page and checks the "no language model" banner;
  2. uploads --pdf through the page's file input and waits for it in the document list;
  3. uploads --broken-pdf (when given) and checks the page shows the server's error message;
  4. asks --question, waits for the streamed answer, checks it quotes --expect with a citation to the file and
     --expect-page, clicks the citation and checks the source panel shows the file, page and passage, and (with
     --highlight-band) the page image the server drew, with its highlight over the passage's text and nowhere else;
  5. asks a follow-up (sent with the conversation history) and checks it is answered too;
  6. saves screenshots (wide and narrow) and fails on any console error (CSP violations included);
  7. deletes the document through the page and checks the list is empty again.

Exit status: 0 passed, 1 a check failed, 2 chromium, chromedriver or selenium is missing (run scripts/setup.sh).

Usage:
  scripts/browser_test.py --url http://127.0.0.1:8501 --pdf handbook.pdf \
      --question "When must receipts be submitted?" --expect "Receipts must be submitted within 30 days." \
      --expect-page 2 [--highlight-band 0.04,0.10] [--broken-pdf broken.pdf] [--screenshot /tmp/pdf-chatbot.png]
"""

import argparse
import os
import shutil
import sys
import time

CHROMIUM = os.environ.get("CHROMIUM_BINARY", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")


def missing(what):
    print(f"MISSING: {what}. Run scripts/setup.sh (apt: chromium chromium-driver; pip: selenium).", flush=True)
    sys.exit(2)


try:
    from selenium import webdriver
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait
except ImportError:
    missing("the selenium Python package")


class CheckFailed(Exception):
    pass


def check(condition, message):
    if not condition:
        raise CheckFailed(message)
    print(f"ok: {message}", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True, help="the server's base URL, e.g. http://127.0.0.1:8501")
    parser.add_argument("--pdf", required=True, help="a PDF to upload")
    parser.add_argument("--question", required=True, help="a question the PDF answers")
    parser.add_argument("--expect", help="a sentence the answer must quote (default: not checked)")
    parser.add_argument("--expect-page", type=int, help="the page the citation must name (default: not checked)")
    parser.add_argument("--follow-up", default="And what else does the document say about that?",
                        help="a second question, sent with the history")
    parser.add_argument("--highlight-band", help="TOP,BOTTOM: the part of the cited page's height (fractions from the top)"
                        " where the passage's text is; the page image's highlight must be there and only there"
                        " (default: not checked)")
    parser.add_argument("--broken-pdf", help="a damaged PDF whose upload must show an error naming it")
    parser.add_argument("--scanned-pdf", help="an image-only PDF whose listing must say its page was read by OCR")
    parser.add_argument("--screenshot", default="/tmp/pdf-chatbot-browser.png", help="where to save the screenshot")
    parser.add_argument("--timeout", type=float, default=30, help="seconds to wait for each step")
    args = parser.parse_args()

    for path, what in ((CHROMIUM, "chromium (/usr/bin/chromium)"), (CHROMEDRIVER, "chromedriver (/usr/bin/chromedriver)")):
        if not (os.path.isfile(path) and os.access(path, os.X_OK)):
            missing(what)

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                 "--window-size=1440,900", "--force-device-scale-factor=1", "--lang=en-US"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    shot = args.screenshot
    try:
        run(driver, args)
        print("browser test passed", flush=True)
        return 0
    except (CheckFailed, TimeoutException) as error:
        message = str(error) or error.__class__.__name__
        failure_shot = shot.replace(".png", "-failure.png")
        driver.save_screenshot(failure_shot)
        print(f"FAIL: {message} (screenshot: {failure_shot})", flush=True)
        print_console(driver)
        return 1
    finally:
        driver.quit()


def print_console(driver):
    for entry in driver.get_log("browser"):
        print(f"console {entry['level']}: {entry['message']}", flush=True)


def run(driver, args):
    wait = WebDriverWait(driver, args.timeout)
    file_name = os.path.basename(args.pdf)

    def visible_text(css):
        return driver.find_element(By.CSS_SELECTOR, css).text

    # 1. The page loads, finds the server ready and says no language model is configured.
    driver.get(args.url)
    wait.until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-ready") == "true")
    banner = driver.find_element(By.ID, "llm-banner")
    check(banner.is_displayed(), "the no-language-model banner is shown")
    check("OPENAI_API_KEY" in banner.text and "quote your documents" in banner.text,
          f"the banner explains what to set: {banner.text!r}")
    check("No language model" in visible_text("#status"), f"the status says so too: {visible_text('#status')!r}")
    check(driver.find_element(By.ID, "question") == driver.switch_to.active_element, "the question box has the focus")
    driver.save_screenshot(args.screenshot.replace(".png", "-start.png"))

    # 2. Upload through the file input; the document appears in the list with its pages and chunks.
    file_input = driver.find_element(By.CSS_SELECTOR, "input[type=file]")
    file_input.send_keys(os.path.abspath(args.pdf))
    document = wait.until(lambda d: first(d.find_elements(By.CSS_SELECTOR, f"#doc-list li.doc[data-file='{file_name}']")))
    meta = document.find_element(By.CSS_SELECTOR, ".doc-meta").text
    check("page" in meta and "chunk" in meta, f"{file_name} is listed with pages and chunks: {meta!r}")
    wait.until(lambda d: first(d.find_elements(By.CSS_SELECTOR, f".upload.done[data-file='{file_name}']"))
               or not d.find_elements(By.CSS_SELECTOR, f".upload[data-file='{file_name}']"))

    # 3. A broken PDF: the page shows the server's message, and the document list is unchanged.
    if args.broken_pdf:
        broken_name = os.path.basename(args.broken_pdf)
        driver.find_element(By.CSS_SELECTOR, "input[type=file]").send_keys(os.path.abspath(args.broken_pdf))
        failed = wait.until(lambda d: first(d.find_elements(By.CSS_SELECTOR, f".upload.failed[data-file='{broken_name}']")))
        error_text = failed.find_element(By.CSS_SELECTOR, ".upload-state").text
        print(f"upload error shown: {error_text}", flush=True)
        check(failed.is_displayed() and broken_name in error_text and "HTTP" not in error_text,
              f"the failed upload shows the server's message naming {broken_name}")
        check(len(driver.find_elements(By.CSS_SELECTOR, "#doc-list li.doc")) == 1, "the broken PDF was not added")

    if args.scanned_pdf:
        # 3b. A scanned PDF: listed with how many of its pages OCR read, and with what confidence.
        scanned_name = os.path.basename(args.scanned_pdf)
        driver.find_element(By.CSS_SELECTOR, "input[type=file]").send_keys(os.path.abspath(args.scanned_pdf))
        scanned = wait.until(lambda d: first(d.find_elements(By.CSS_SELECTOR, f"#doc-list li.doc[data-file='{scanned_name}']")))
        scanned_meta = scanned.find_element(By.CSS_SELECTOR, ".doc-meta").text
        check("1 of 1 page read by OCR, mean confidence" in scanned_meta,
              f"the scanned upload shows its OCR summary: {scanned_meta!r}")
        # Deleted again, so that the rest of the test sees the one document it uploaded.
        delete = scanned.find_element(By.CSS_SELECTOR, ".doc-delete")
        delete.click()
        wait.until(lambda d: delete.text == "Confirm")
        delete.click()
        wait.until(lambda d: not d.find_elements(By.CSS_SELECTOR, f"#doc-list li.doc[data-file='{scanned_name}']"))

    # 4. Ask with Enter; the answer streams in and finishes with citations.
    question = driver.find_element(By.ID, "question")
    question.send_keys(args.question)
    question.send_keys(Keys.ENTER)
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, ".bubble.assistant"))
    bubble = wait.until(lambda d: first(d.find_elements(By.CSS_SELECTOR, ".bubble.assistant.finished, .bubble.assistant.failed")))
    check("failed" not in bubble.get_attribute("class"), f"the answer finished without an error: {bubble.text!r}")
    answer = bubble.find_element(By.CSS_SELECTOR, ".answer").text
    print(f"answer: {answer}", flush=True)
    if args.expect:
        check(args.expect in answer, f"the answer quotes {args.expect!r}")
    sources = [s.text.replace("\n", " ") for s in bubble.find_elements(By.CSS_SELECTOR, ".sources .source")]
    print(f"sources: {sources}", flush=True)
    page_label = f"p. {args.expect_page}" if args.expect_page else "p."
    check(any(file_name in s and page_label in s for s in sources), f"a source names {file_name} {page_label}")
    cites = bubble.find_elements(By.CSS_SELECTOR, ".answer button.cite")
    check(len(cites) > 0, f"the answer's [n] markers are links ({len(cites)})")

    # 5. Click a citation: the source panel shows the file, the page and the passage.
    cite = next((c for c in cites if f"p. {args.expect_page}" in (c.get_attribute("aria-label") or "")), cites[0]) \
        if args.expect_page else cites[0]
    cite.click()
    panel = wait.until(lambda d: first([e for e in d.find_elements(By.ID, "passage-panel") if e.is_displayed()]))
    check(visible_text("#passage-file") == file_name, f"the source panel names the file: {visible_text('#passage-file')!r}")
    if args.expect_page:
        check(visible_text("#passage-pages") == f"Page {args.expect_page}",
              f"the source panel names the page: {visible_text('#passage-pages')!r}")
    if args.expect:
        check(args.expect in visible_text("#passage-text"), "the source panel shows the passage")
    check(driver.switch_to.active_element == driver.find_element(By.ID, "passage-title"), "the focus moved to the source")
    check("active" in cite.get_attribute("class"), "the clicked citation is highlighted")
    if args.highlight_band:
        check_page_image(driver, wait, args)
    driver.save_screenshot(args.screenshot)
    print(f"screenshot: {args.screenshot}", flush=True)

    # Escape closes the panel and returns the focus to the citation.
    driver.switch_to.active_element.send_keys(Keys.ESCAPE)
    wait.until(lambda d: not panel.is_displayed())
    check(driver.switch_to.active_element == cite, "Escape closes the source and returns the focus")

    # 6. A follow-up question goes out with the history and is answered too.
    question = driver.find_element(By.ID, "question")
    question.send_keys(args.follow_up)
    question.send_keys(Keys.ENTER)
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, ".bubble.assistant.finished, .bubble.assistant.failed")) == 2)
    second = driver.find_elements(By.CSS_SELECTOR, ".bubble.assistant")[-1]
    check("failed" not in second.get_attribute("class"), f"the follow-up is answered: {second.text[:80]!r}")

    # A narrow (phone) layout, for the eye: one column, the source as a sheet.
    driver.set_window_size(420, 900)
    driver.find_elements(By.CSS_SELECTOR, ".answer button.cite")[0].click()
    wait.until(lambda d: d.find_element(By.ID, "passage-panel").is_displayed())
    narrow = args.screenshot.replace(".png", "-narrow.png")
    driver.save_screenshot(narrow)
    print(f"screenshot: {narrow}", flush=True)
    driver.find_element(By.ID, "passage-close").click()
    driver.set_window_size(1440, 900)

    # 7. Delete the document (two clicks: Delete, then Confirm).
    button = driver.find_element(By.CSS_SELECTOR, f"#doc-list li.doc[data-file='{file_name}'] .doc-delete")
    button.click()
    wait.until(lambda d: button.text == "Confirm")
    button.click()
    wait.until(lambda d: not d.find_elements(By.CSS_SELECTOR, "#doc-list li.doc"))
    check(driver.find_element(By.ID, "doc-empty").is_displayed(), "deleting empties the document list")

    # No console errors: a CSP violation, a failed asset or a script error would show here.
    errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    for entry in errors:
        print(f"console {entry['level']}: {entry['message']}", flush=True)
    # The broken upload's 422 is logged by the browser as a failed resource; nothing else may be.
    unexpected = [e for e in errors if "422" not in e["message"]]
    check(not unexpected, f"no unexpected console errors ({len(unexpected)})")
    check(not driver.find_element(By.ID, "error-banner").is_displayed(), "no error banner is shown")


# Draws the shown page image on a canvas and returns its size and the rows (as fractions of its height) holding the
# highlight's yellow: much less blue than red and green.
HIGHLIGHTED_ROWS = """
const image = document.getElementById("passage-image");
const canvas = document.createElement("canvas");
canvas.width = image.naturalWidth;
canvas.height = image.naturalHeight;
const context = canvas.getContext("2d");
context.drawImage(image, 0, 0);
const data = context.getImageData(0, 0, canvas.width, canvas.height).data;
const rows = [];
let dark = 0;
for (let y = 0; y < canvas.height; y += 1) {
  let yellow = 0;
  for (let x = 0; x < canvas.width; x += 1) {
    const i = (y * canvas.width + x) * 4;
    if (data[i] > 200 && data[i + 1] > 170 && data[i + 2] < 120) yellow += 1;
    if (data[i] < 90 && data[i + 1] < 90 && data[i + 2] < 90) dark += 1;
  }
  if (yellow > 0) rows.push(y / canvas.height);
}
return {width: canvas.width, height: canvas.height, rows: rows, dark: dark};
"""


def check_page_image(driver, wait, args):
    """The source panel shows the cited page, drawn by the server, with a highlight over the passage's text only."""
    top, bottom = (float(part) for part in args.highlight_band.split(","))
    image = wait.until(lambda d: first([e for e in d.find_elements(By.ID, "passage-image")
                                        if e.is_displayed() and e.get_attribute("src")
                                        and d.execute_script("return arguments[0].complete && arguments[0].naturalWidth", e)]))
    check(image.get_attribute("src").startswith("blob:"), "the page image was fetched with the API's headers (a blob)")
    check(int(image.get_attribute("data-highlights") or "0") > 0, "the server found the passage on the page")
    note = driver.find_element(By.ID, "passage-image-note").text
    check("highlighted" in note, f"the image's note says the passage is highlighted: {note!r}")
    found = driver.execute_script(HIGHLIGHTED_ROWS)
    rows = found["rows"]
    print(f"page image: {found['width']}x{found['height']}, highlighted rows {min(rows or [0]):.3f}...{max(rows or [0]):.3f}",
          flush=True)
    check(len(rows) > 0, "the page image has a highlight")
    check(all(top <= row <= bottom for row in rows),
          f"the highlight is over the passage's text, {top:.3f}...{bottom:.3f} of the page: {min(rows):.3f}...{max(rows):.3f}")
    check(found["dark"] > 0, "the page's text is drawn (dark pixels)")
    box = driver.execute_script("const r = arguments[0].getBoundingClientRect(); return [r.width, r.height];", image)
    check(box[0] > 150, f"the page image is shown at a readable size: {box}")
    print("ok: the page image highlights the passage", flush=True)


def first(elements):
    return elements[0] if elements else None


if __name__ == "__main__":
    sys.exit(main())
