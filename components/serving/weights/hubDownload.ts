/**
 * The weights sync Job's download step: a pinned revision of a Hugging Face model repository into
 * /work/model, with the Python standard library only, so it runs in a small `python` image instead
 * of the ~10 GB vLLM image (which put a system node under disk pressure only to use its
 * huggingface_hub).
 *
 * The Hub's HTTP interface as huggingface_hub uses it (huggingface/huggingface_hub, v0.36 / v1.x):
 * - listing: GET {HF_ENDPOINT}/api/models/{repo_id}/tree/{quote(revision, safe='')}?recursive=true
 *   (hf_api.py list_repo_tree; hf_file_system.py _iter_tree), a JSON array of entries
 *   {type: "file" | "directory", path, size, oid (git blob sha1), lfs?: {oid (sha256), size}},
 *   paginated by the `Link: <url>; rel="next"` header (utils/_pagination.py paginate);
 * - files: GET {HF_ENDPOINT}/{repo_id}/resolve/{revision}/{path} (file_download.py hf_hub_url), which
 *   redirects large files to a CDN or the Xet bridge on another host;
 * - auth: `Authorization: Bearer <HF_TOKEN>` (utils/_headers.py build_hf_headers), never sent to
 *   another host after a redirect (the `requests` huggingface_hub uses drops it: Session.rebuild_auth);
 * - HF_ENDPOINT overrides https://huggingface.co (constants.py).
 * Each file is checked against the listing: sha256 for LFS files, the git blob sha1 otherwise, and
 * written under a temporary name first, so a restarted container skips what it already verified.
 * Paths that would leave the destination are refused. Weight formats the Run:ai streamer does not read
 * are skipped (IGNORED_PATTERNS). `WORK_DIR` (default /work) exists for the test.
 */

/** Weight formats the Run:ai streamer does not read, and original checkpoints: not copied. */
export const IGNORED_PATTERNS = ["*.bin", "*.pt", "*.pth", "*.gguf", "*.onnx", "*.msgpack", "*.h5", "original/*"] as const;

/** Python 3 (standard library only) run with `python3 -c`. */
export const HUB_DOWNLOAD_SCRIPT = `import fnmatch, hashlib, json, os, re, sys, urllib.error, urllib.parse, urllib.request
WORK = os.environ.get("WORK_DIR", "/work")
if os.path.exists(os.path.join(WORK, "done")):
    sys.exit(0)
ENDPOINT = os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")
REPO, REV, TOKEN = os.environ["MODEL_ID"], os.environ["REVISION"], os.environ.get("HF_TOKEN", "")
IGNORE = ${JSON.stringify(IGNORED_PATTERNS)}
DEST = os.path.realpath(os.path.join(WORK, "model"))

class SameHostAuth(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        if new is not None and urllib.parse.urlsplit(new.full_url).netloc != urllib.parse.urlsplit(req.full_url).netloc:
            new.remove_header("Authorization")
        return new

OPENER = urllib.request.build_opener(SameHostAuth)

def get(url):
    headers = {"User-Agent": "gpuserve-weights-sync"}
    if TOKEN:
        headers["Authorization"] = "Bearer " + TOKEN
    try:
        return OPENER.open(urllib.request.Request(url, headers=headers), timeout=120)
    except urllib.error.HTTPError as e:
        hint = " (a gated model: set the hfToken secret and accept the model's licence on the Hub)" if e.code in (401, 403) else ""
        sys.exit("GET %s: HTTP %d%s" % (url.split("?")[0], e.code, hint))

files = []
url = "%s/api/models/%s/tree/%s?recursive=true" % (ENDPOINT, REPO, urllib.parse.quote(REV, safe=""))
while url:
    with get(url) as r:
        files += [e for e in json.load(r) if e.get("type") == "file"]
        m = re.search(r'<([^>]+)>;\\s*rel="next"', r.headers.get("Link") or "")
        url = m.group(1) if m else None

def digest(path, entry):
    lfs = entry.get("lfs")
    h = hashlib.sha256() if lfs else hashlib.sha1(b"blob %d\\0" % entry["size"])
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest(), (lfs["oid"] if lfs else entry["oid"])

count = 0
for e in files:
    name = e["path"]
    if any(fnmatch.fnmatch(name, p) for p in IGNORE):
        continue
    target = os.path.realpath(os.path.join(DEST, name))
    if not target.startswith(DEST + os.sep):
        sys.exit("refusing %r: outside the destination" % name)
    if os.path.exists(target):
        got, want = digest(target, e)
        if got == want:
            continue
    os.makedirs(os.path.dirname(target), exist_ok=True)
    part = target + ".part"
    with get("%s/%s/resolve/%s/%s" % (ENDPOINT, REPO, urllib.parse.quote(REV, safe=""), urllib.parse.quote(name))) as r, open(part, "wb") as out:
        for chunk in iter(lambda: r.read(1 << 20), b""):
            out.write(chunk)
    got, want = digest(part, e)
    if got != want:
        os.remove(part)
        sys.exit("%s: checksum %s, the Hub lists %s" % (name, got, want))
    os.replace(part, target)
    count += 1
print("downloaded %d files of %s@%s" % (count, REPO, REV))
`;
