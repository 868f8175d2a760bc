#!/usr/bin/env python3
"""A client that talks to the registry the way FlowMason's Python client does
(flowmason_core.registry.remote): JSON Content-Type on every call (GETs included), redirects are
errors, {detail} errors, absolute download_url downloaded and its SHA-256 checked, and publish as
multipart with part `file` (application/octet-stream) and form field `checksum`.

Standard library only.  Usage:
  flowmason_client.py BASE_URL TOKEN ARCHIVE NAME VERSION
Prints one JSON object with what it saw; exits 1 with a message on any failure.
"""
import hashlib
import json
import sys
import urllib.error
import urllib.request
import uuid


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        raise RuntimeError("redirect %s to %s: FlowMason's client does not follow redirects" % (code, newurl))


OPENER = urllib.request.build_opener(NoRedirect)


class RegistryError(Exception):
    pass


class Client:
    def __init__(self, base, token=None):
        self.base = base.rstrip("/")
        self.token = token

    def _headers(self):
        h = {"Content-Type": "application/json"}
        if self.token:
            h["Authorization"] = "Bearer " + self.token
        return h

    def _url(self, endpoint):
        # path segments and the query are sent without URL-encoding, as FlowMason does
        return "%s/api/v1/registry/%s" % (self.base, endpoint)

    def _json(self, method, endpoint, body=None, headers=None):
        req = urllib.request.Request(self._url(endpoint), data=body, method=method, headers=headers or self._headers())
        try:
            with OPENER.open(req, timeout=30) as res:
                if res.status < 200 or res.status >= 300:
                    raise RegistryError("HTTP %s" % res.status)
                return json.loads(res.read().decode("utf-8"))
        except urllib.error.HTTPError as e:
            payload = e.read().decode("utf-8")
            detail = json.loads(payload).get("detail") if payload else None
            if e.code == 401:
                raise RegistryError("authentication failed: %s" % detail)
            if e.code == 404:
                return None
            raise RegistryError("HTTP %s: %s" % (e.code, detail))

    def health(self):
        return self._json("GET", "health")

    def search(self, q, page=1, page_size=20):
        res = self._json("GET", "packages/search?q=%s&page=%d&page_size=%d" % (q, page, page_size))
        return res["packages"]

    def info(self, name, version=None):
        return self._json("GET", "packages/%s" % name if version is None else "packages/%s/%s" % (name, version))

    def versions(self, name):
        res = self._json("GET", "packages/%s/versions" % name)
        return None if res is None else res["versions"]

    def download(self, info):
        url = info.get("download_url") or self._url("packages/%s/%s/download" % (info["name"], info["version"]))
        if not url.startswith("http://") and not url.startswith("https://"):
            raise RegistryError("download_url is not absolute: %r" % url)
        req = urllib.request.Request(url, headers=self._headers())
        with OPENER.open(req, timeout=5) as res:
            data = res.read()
        if info.get("checksum") and hashlib.sha256(data).hexdigest() != info["checksum"]:
            raise RegistryError("checksum mismatch for %s@%s" % (info["name"], info["version"]))
        return data

    def publish(self, path):
        with open(path, "rb") as f:
            data = f.read()
        checksum = hashlib.sha256(data).hexdigest()
        boundary = uuid.uuid4().hex
        filename = path.rsplit("/", 1)[-1]
        body = b"".join([
            ("--%s\r\n" % boundary).encode(),
            ('Content-Disposition: form-data; name="file"; filename="%s"\r\n' % filename).encode(),
            b"Content-Type: application/octet-stream\r\n\r\n",
            data,
            ("\r\n--%s\r\n" % boundary).encode(),
            b'Content-Disposition: form-data; name="checksum"\r\n\r\n',
            checksum.encode(),
            ("\r\n--%s--\r\n" % boundary).encode(),
        ])
        headers = {"Content-Type": "multipart/form-data; boundary=%s" % boundary}
        if self.token:
            headers["Authorization"] = "Bearer " + self.token
        return self._json("POST", "packages/upload", body=body, headers=headers)


def main():
    base, token, archive, name, version = sys.argv[1:6]
    anon = Client(base)
    client = Client(base, token)
    seen = {}
    h = anon.health()
    seen["health"] = h["status"]
    try:
        anon.publish(archive)
        raise RegistryError("publish without a token succeeded")
    except RegistryError as e:
        seen["anonymous_publish"] = str(e)
    published = client.publish(archive)
    seen["published"] = {k: published[k] for k in ("name", "version", "download_url", "checksum")}
    found = client.search(name.split("-")[0])
    seen["search_names"] = [p["name"] for p in found]
    info = client.info(name)
    seen["latest"] = info["version"]
    seen["exact"] = client.info(name, version)["version"]
    seen["versions"] = client.versions(name)
    seen["missing"] = client.info("no-such-package-%s" % uuid.uuid4().hex[:6])
    data = client.download(info)
    seen["downloaded_bytes"] = len(data)
    seen["sha256_ok"] = hashlib.sha256(data).hexdigest() == info["checksum"]
    print(json.dumps(seen))


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # noqa: BLE001
        print("error: %s" % e, file=sys.stderr)
        sys.exit(1)
