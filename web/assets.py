"""Static files: the DSFR from its npm package and the web front's own CSS/JS, under versioned URLs.

`/static/<version>/dsfr/<path>` serves `node_modules/@gouvfr/dsfr/dist/<path>` and
`/static/<version>/app/<path>` serves `web/static/<path>`. The version is a digest of
`package-lock.json` and of the own files, so a new release changes every URL and the answers can
be cached for a year (`immutable`). Text files (CSS, JS, SVG) are sent gzip-compressed when the
browser accepts it, compressed once and kept in memory.
"""

from __future__ import annotations

import gzip
import hashlib
import mimetypes
from pathlib import Path

from aiohttp import web

from .i18n import HERE

ASSETS: web.AppKey[Assets] = web.AppKey("assets")
LONG_CACHE = "public, max-age=31536000, immutable"
COMPRESSIBLE = (".css", ".js", ".svg", ".json", ".map", ".webmanifest")


class Assets:
    def __init__(self, node_modules: Path) -> None:
        self.roots = {"dsfr": node_modules / "@gouvfr" / "dsfr" / "dist", "app": HERE / "static"}
        if not (self.roots["dsfr"] / "dsfr.min.css").is_file():
            raise RuntimeError(
                f"the DSFR is not installed in {self.roots['dsfr']}: run scripts/bootstrap (npm ci) or set WEB_ASSETS_DIR"
            )
        self.version = self._version(node_modules)
        self._gzipped: dict[Path, tuple[bytes, str]] = {}

    def _version(self, node_modules: Path) -> str:
        digest = hashlib.sha256()
        lock = node_modules / ".package-lock.json"
        digest.update(lock.read_bytes() if lock.is_file() else b"")
        digest.update((self.roots["dsfr"] / "dsfr.min.css").read_bytes()[:4096])
        for path in sorted(self.roots["app"].rglob("*")):
            if path.is_file():
                digest.update(path.name.encode())
                digest.update(path.read_bytes())
        return digest.hexdigest()[:12]

    def url(self, path: str) -> str:
        """`asset("dsfr/dsfr.min.css")` → `/static/<version>/dsfr/dsfr.min.css`."""
        return f"/static/{self.version}/{path}"

    def resolve(self, root: str, relative: str) -> Path | None:
        base = self.roots.get(root)
        if base is None:
            return None
        path = (base / relative).resolve()
        if not path.is_relative_to(base.resolve()) or not path.is_file():
            return None
        return path

    async def handle(self, request: web.Request) -> web.StreamResponse:
        path = self.resolve(request.match_info["root"], request.match_info["path"])
        if path is None:
            raise web.HTTPNotFound()
        cache = LONG_CACHE if request.match_info["version"] == self.version else "public, max-age=60"
        headers = {"Cache-Control": cache, "X-Content-Type-Options": "nosniff", "Vary": "Accept-Encoding"}
        if path.suffix in COMPRESSIBLE and "gzip" in request.headers.get("Accept-Encoding", ""):
            body, etag = self._compressed(path)
            if request.headers.get("If-None-Match") == etag:
                return web.Response(status=304, headers={**headers, "ETag": etag})
            content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            if path.suffix == ".webmanifest":
                content_type = "application/manifest+json"
            return web.Response(
                body=body, headers={**headers, "ETag": etag, "Content-Encoding": "gzip", "Content-Type": content_type}
            )
        return web.FileResponse(path, headers=headers)

    def _compressed(self, path: Path) -> tuple[bytes, str]:
        found = self._gzipped.get(path)
        if found is None:
            raw = path.read_bytes()
            found = (gzip.compress(raw, 6, mtime=0), f'"{hashlib.sha256(raw).hexdigest()[:16]}-gz"')
            self._gzipped[path] = found
        return found


def install(app: web.Application, assets: Assets) -> None:
    app[ASSETS] = assets
    app.router.add_get(r"/static/{version:[0-9a-f]{1,40}}/{root:dsfr|app}/{path:.+}", assets.handle)
