#!/usr/bin/env python3
"""Rebuild rules/lists/phishing-domains.txt from the Phishing.Database blocklists.

    rules/lists/update-phishing-domains.py [BLOCKLIST_DIR]

BLOCKLIST_DIR defaults to $FANZHA_DATA/blocklists or ../shared/data/blocklists
beside the repository. Every *.txt there is read (one domain a line), names are
lower-cased, trailing dots and spaces dropped, duplicates removed, and shared
platforms are left out: a blocklist names them because one page on them was a
phishing page, but as a literal they would flag every message that links to
the platform itself (URL shorteners, document and file hosts).

Phishing.Database is MIT-licensed (Copyright (c) 2018 Mitchell Krog); the
attribution is written into the list's header.
"""
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "rules", "lists", "phishing-domains.txt")

SHARED = {
    "bit.ly", "t.co", "goo.gl", "tinyurl.com", "ow.ly", "is.gd", "buff.ly", "rebrand.ly",
    "cutt.ly", "t.ly", "shorturl.at", "rb.gy", "tiny.cc", "bitly.com", "lnkd.in",
    "docs.google.com", "drive.google.com", "sites.google.com", "forms.gle", "storage.googleapis.com",
    "firebasestorage.googleapis.com", "dropbox.com", "www.dropbox.com", "dl.dropboxusercontent.com",
    "onedrive.live.com", "1drv.ms", "sharepoint.com", "github.io", "raw.githubusercontent.com",
    "000webhostapp.com", "weebly.com", "wixsite.com", "blogspot.com", "wordpress.com",
    "web.app", "firebaseapp.com", "glitch.me", "herokuapp.com", "netlify.app", "vercel.app",
    "pages.dev", "workers.dev", "ipfs.io", "mediafire.com", "wetransfer.com", "we.tl",
    "forms.office.com", "sway.office.com", "jotform.com", "typeform.com",
    "bit.do", "gg.gg", "cutt.us", "adf.ly", "x.co", "tr.im", "s.id", "v.gd", "shorte.st",
}
VALID = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$")


def main():
    src = sys.argv[1] if len(sys.argv) > 1 else None
    if not src:
        for d in (os.environ.get("FANZHA_DATA"), os.path.join(ROOT, "..", "shared", "data")):
            if d and os.path.isdir(os.path.join(d, "blocklists")):
                src = os.path.join(d, "blocklists")
                break
    if not src or not os.path.isdir(src):
        sys.exit("update-phishing-domains: no blocklist directory (give one, or set FANZHA_DATA)")
    names, skipped, invalid = set(), 0, 0
    files = sorted(f for f in os.listdir(src) if f.endswith(".txt"))
    for f in files:
        with open(os.path.join(src, f), encoding="utf-8", errors="replace") as fp:
            for line in fp:
                d = line.strip().rstrip(".").lower()
                if not d or d.startswith("#"):
                    continue
                if d in SHARED or (d.startswith("www.") and d[4:] in SHARED):
                    skipped += 1
                    continue
                if not VALID.match(d):
                    invalid += 1
                    continue
                names.add(d)
    with open(OUT, "w", encoding="utf-8") as out:
        out.write("# Phishing domains, one per line; used by rules/common/phishing-domains.yaml.\n")
        out.write("# Source: Phishing.Database (https://github.com/mitchellkrogza/Phishing.Database)\n")
        out.write("# MIT License, Copyright (c) 2018 Mitchell Krog. Files: " + ", ".join(files) + "\n")
        out.write("# Rebuilt by rules/lists/update-phishing-domains.py; shared platforms left out.\n")
        for d in sorted(names):
            out.write(d + "\n")
    print(f"update-phishing-domains: {len(names)} domains -> {os.path.relpath(OUT, ROOT)} "
          f"({skipped} shared-platform entries and {invalid} malformed names left out)")


if __name__ == "__main__":
    main()
