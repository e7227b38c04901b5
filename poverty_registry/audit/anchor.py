"""Anchors of the audit trail: the heads of both hash chains (records and journal), signed with an HMAC key the
database never holds and appended to a file the database cannot reach. Whoever can write the database can rewrite
the chains consistently; they cannot rewrite an anchor, so `verify_audit` catches them at the first anchor after
the rewritten record.

One JSON line per anchor, written only when a head moved since the last line (a line per hour of a quiet
bureau says nothing new). Each line carries the previous line's HMAC inside its own signed fields, so a line
removed, altered or reordered breaks the lines' chain.
"""
from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import hmac
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.utils import timezone

logger = logging.getLogger("audit.anchor")  # a syslog handler on this logger ships each line off the host

HEAD_FIELDS = ("record_id", "record_hash", "journal_id", "journal_hash")
SHOWN_HEX = 16  # hex digits of a hash shown on the printed list: enough to compare by eye, short enough to copy


class AnchorKeyMissing(ImproperlyConfigured):
    pass


class AnchorFileDamaged(Exception):
    pass


def anchor_key() -> bytes:
    """The signing key: AUDIT_ANCHOR_KEY, or under DEBUG one derived from SECRET_KEY. Production without a key
    refuses, so an anchor is never signed with something an attacker might guess."""
    if settings.AUDIT_ANCHOR_KEY:
        return settings.AUDIT_ANCHOR_KEY.encode()
    if settings.DEBUG:
        return hmac.new(settings.SECRET_KEY.encode(), b"audit-anchor-dev-key", hashlib.sha256).hexdigest().encode()
    raise AnchorKeyMissing("未设置 AUDIT_ANCHOR_KEY 环境变量，无法签署或核对审计锚点"
                           "（生成方法：python -c \"import secrets; print(secrets.token_hex(32))\"）")


def key_id(key: bytes) -> str:
    """Names a key in each line (so retired keys still verify their lines) without telling anything of it."""
    return hmac.new(key, b"audit-anchor-key-id", hashlib.sha256).hexdigest()[:8]


def known_keys() -> dict[str, bytes]:
    keys = [anchor_key(), *(k.encode() for k in settings.AUDIT_ANCHOR_RETIRED_KEYS)]
    return {key_id(k): k for k in keys}


def signature(fields: dict, key: bytes) -> str:
    """HMAC-SHA256 of every field but the HMAC itself, as canonical JSON."""
    body = {k: v for k, v in fields.items() if k != "hmac"}
    message = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def chain_heads() -> dict:
    """The last id and chain hash of the records and of the journal, read in one statement (one snapshot)."""
    with connection.cursor() as cursor:
        cursor.execute("""
            SELECT r.id, encode(r.chain_hash, 'hex'), j.id, encode(j.chain_hash, 'hex')
              FROM (SELECT 1) one
              LEFT JOIN (SELECT id, chain_hash FROM claims_auditrecord ORDER BY id DESC LIMIT 1) r ON true
              LEFT JOIN (SELECT id, chain_hash FROM claims_auditjournal ORDER BY id DESC LIMIT 1) j ON true""")
        return dict(zip(HEAD_FIELDS, cursor.fetchone()))


def anchor_path() -> Path:
    return Path(settings.AUDIT_ANCHOR_FILE)


def write_anchor(now: dt.datetime | None = None) -> dict | None:
    """Append an anchor of the current heads, unless they are those of the last line (then None).

    The file is opened with O_APPEND (it may carry `chattr +a`) and locked while its last line is read and the
    new one written, so a cron run and beat's run never both chain to the same line; fsync before returning."""
    key = anchor_key()
    heads = chain_heads()
    path = anchor_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o640)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        last = _last_anchor(_read_all(fd), path)
        if last is None and heads["record_id"] is None and heads["journal_id"] is None:
            return None  # an empty trail: nothing to anchor yet
        if last is not None and all(last.get(f) == heads[f] for f in HEAD_FIELDS):
            return None
        line = {"n": (last["n"] + 1) if last else 1,
                "at": timezone.localtime(now or timezone.now()).isoformat(timespec="seconds"),
                **heads, "prev": last["hmac"] if last else "", "kid": key_id(key)}
        line["hmac"] = signature(line, key)
        os.write(fd, (json.dumps(line, ensure_ascii=False) + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)  # closing releases the lock
    logger.info("audit anchor %s", json.dumps(line, ensure_ascii=False))
    return line


def _read_all(fd: int) -> bytes:
    chunks = []
    offset = 0
    while chunk := os.pread(fd, 1 << 20, offset):
        chunks.append(chunk)
        offset += len(chunk)
    return b"".join(chunks)


def _last_anchor(content: bytes, path: Path) -> dict | None:
    lines = content.decode(errors="replace").splitlines()
    if not lines:
        return None
    try:
        last = json.loads(lines[-1])
    except ValueError:
        last = None
    if not (isinstance(last, dict) and isinstance(last.get("n"), int) and isinstance(last.get("hmac"), str)):
        # Fail closed: chaining on to a damaged line would bless it. A person must look at the file.
        raise AnchorFileDamaged(f"审计锚点文件 {path} 的最后一行无法解析，已停止写入锚点，请人工核查")
    return last


# ---- Reading and checking ---------------------------------------------------------------------------------

@dataclass
class Anchor:
    line_no: int  # in the file, from 1
    fields: dict | None  # None: the line is not an anchor's JSON
    problem: str = ""  # "" while nothing is wrong with it

    @property
    def label(self) -> str:
        if self.fields is None:
            return f"锚点文件第 {self.line_no} 行"
        return f"第 {self.fields.get('n')} 号锚点（{self.fields.get('at')}，记录 #{self.fields.get('record_id')}）"

    @property
    def at(self) -> dt.datetime | None:
        try:
            return dt.datetime.fromisoformat(self.fields["at"])
        except (TypeError, KeyError, ValueError):
            return None

    def short(self, field: str) -> str:
        """The start of a hash, as the printed list shows it."""
        value = (self.fields or {}).get(field)
        return value[:SHOWN_HEX] if isinstance(value, str) else ""

    @property
    def shown(self) -> dict:
        """What the printed list shows of it."""
        fields = self.fields or {}
        return {"n": fields.get("n"), "at": self.at, "record_id": fields.get("record_id"),
                "record_hash": self.short("record_hash"), "journal_id": fields.get("journal_id"),
                "journal_hash": self.short("journal_hash"), "hmac": self.short("hmac")}


def read_anchors(path: Path | None = None) -> list[Anchor] | None:
    """Every line of the file as an Anchor (None when there is no file yet)."""
    path = path or anchor_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    anchors = []
    for line_no, raw in enumerate(text.splitlines(), 1):
        try:
            fields = json.loads(raw)
        except ValueError:
            fields = None
        anchors.append(Anchor(line_no, fields if isinstance(fields, dict) else None))
    return anchors


def check_lines(anchors: list[Anchor], keys: dict[str, bytes]) -> None:
    """Mark each line whose HMAC does not verify with a known key, or that does not follow the line before it
    (a line removed, inserted or reordered)."""
    prev = ""
    for number, anchor in enumerate(anchors, 1):
        fields = anchor.fields
        if fields is None:
            anchor.problem = "不是有效的锚点记录"
            prev = None
            continue
        key = keys.get(fields.get("kid"))
        if key is None:
            anchor.problem = "签名密钥不在已知密钥之中（伪造的锚点或密钥缺失）"
        elif not hmac.compare_digest(signature(fields, key), str(fields.get("hmac", ""))):
            anchor.problem = "签名不符（锚点被改写或用其他密钥伪造）"
        elif fields.get("prev") != prev or fields.get("n") != number:
            anchor.problem = "与上一锚点不相连（此前的锚点被删除、插入或调换）"
        prev = fields.get("hmac")


def check_database(anchors: list[Anchor]) -> None:
    """Mark each anchor whose record (and journal entry) no longer has the anchored chain hash."""
    wanted = {"record": set(), "journal": set()}
    for anchor in anchors:
        for chain in wanted:
            if anchor.fields is not None and anchor.fields.get(f"{chain}_id") is not None:
                wanted[chain].add(anchor.fields[f"{chain}_id"])
    stored = {}
    with connection.cursor() as cursor:
        for chain, table in (("record", "claims_auditrecord"), ("journal", "claims_auditjournal")):
            cursor.execute(f"SELECT id, encode(chain_hash, 'hex') FROM {table} WHERE id = ANY(%s)",
                           [sorted(wanted[chain])])
            stored[chain] = dict(cursor.fetchall())
    names = {"record": "审计记录", "journal": "审计批量日志"}
    for anchor in anchors:
        if anchor.problem or anchor.fields is None:
            continue
        for chain in ("record", "journal"):
            anchored_id = anchor.fields.get(f"{chain}_id")
            if anchored_id is None:
                continue
            found = stored[chain].get(anchored_id)
            if found is None:
                anchor.problem = f"{names[chain]} #{anchored_id} 已不存在"
            elif found != anchor.fields.get(f"{chain}_hash"):
                anchor.problem = f"{names[chain]} #{anchored_id} 的链哈希与锚定时不同（此前的记录被改写）"
            if anchor.problem:
                break


@dataclass
class AnchorReport:
    found: bool  # False: no anchor file yet
    checked: int
    first_broken: Anchor | None


def verify_anchors(path: Path | None = None) -> AnchorReport:
    """Check every anchor: its HMAC, its place in the lines' chain, and the database against it."""
    anchors = read_anchors(path)
    if anchors is None:
        return AnchorReport(False, 0, None)
    check_lines(anchors, known_keys())
    check_database(anchors)
    return AnchorReport(True, len(anchors), next((a for a in anchors if a.problem), None))


def anchors_of_day(day: dt.date, path: Path | None = None) -> tuple[list[Anchor] | None, bool]:
    """The anchors written on `day` (local time; None: no file yet), and whether their lines were checked (they are
    when the key is at hand; the page lists them either way, verify_audit says whether they hold)."""
    anchors = read_anchors(path)
    if anchors is None:
        return None, False
    try:
        check_lines(anchors, known_keys())
        checked = True
    except AnchorKeyMissing:
        checked = False
    return [a for a in anchors if a.at is not None and timezone.localtime(a.at).date() == day], checked
