"""Attachments on any record (issue 6 §3): checking a file, storing it, reading it back.

Every module hangs files on its records through the registry in crm.core.attachments; this
module holds the one implementation of what happens to them:

- `attachment_file_check` proves a file is what its name says, from its bytes (puremagic for
  the signatures, zipfile for the Office/OpenDocument containers, a decoder for text), within
  the size limit and the kinds an administrator allows (Settings → System rules);
- the services `attachment_create`, `attachments_create`, `attachment_delete`,
  `attachments_purge_for`, `attachments_purge_expired` write the rows (audited on the record,
  a "file" line on the customer's timeline) and the stored files (Django's storage API: a
  folder under the data directory, or an S3-compatible bucket);
- the selectors `attachments_for`, `attachments_on_record`, `attachments_for_customer`,
  `attachment_get` read them, always through the record's own scoped selector, so a file is
  never reachable by someone who cannot open its record.

Forms of other modules that take files with their own fields (a follow-up with its proposal,
a won opportunity with its contract) call `attachment_file_check` on each upload while they
validate (so the user sees every problem at once), then `attachments_create` in the same
transaction as their own write, last, after everything else has passed: a file is written to
the storage when its row is, and a storage has no rollback, so a transaction that fails after
it would leave the stored file behind (its row is rolled back). Their web views carry
`crm.core.body_limit.accepts_uploads`, or a body over Django's 2.5 MB form limit is refused.
"""

from __future__ import annotations

import codecs
import contextlib
import datetime as dt
import hashlib
import logging
import re
import unicodedata
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import puremagic
from django.contrib.contenttypes.models import ContentType
from django.core.files.storage import default_storage
from django.db import transaction
from django.http import FileResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from crm.core.attachments import (
    AttachmentTarget,
    attachment_target,
    attachment_target_for_model,
    attachment_targets,
)
from crm.core.audit import audit_record
from crm.core.config import setting_get
from crm.core.errors import (
    NotFoundError,
    PermissionDeniedError,
    TooLargeError,
    ValidationFailed,
)
from crm.core.models import Attachment, AuditEntry
from crm.core.scope import user_can
from crm.core.timeline import timeline_record

logger = logging.getLogger(__name__)

MIB = 1024 * 1024
CHUNK = 64 * 1024
HEAD = 8 * 1024  # what the signatures are read from
NAME_MAX = 200  # Attachment.name
FILES_PER_UPLOAD = 10  # files one request may carry (the UI's multiple-file upload)
CUSTOMER_FILES_SHOWN = 200  # newest files listed on a customer's files tab

FAMILIES = ("office", "pdf", "image", "text", "zip")
FAMILY_LABELS = {
    "office": gettext_lazy("Office documents (Word, Excel, PowerPoint, WPS, OpenDocument, CSV)"),
    "pdf": gettext_lazy("PDF"),
    "image": gettext_lazy("Images (PNG, JPEG, GIF, WebP, BMP)"),
    "text": gettext_lazy("Text (TXT, CSV, Markdown)"),
    "zip": gettext_lazy("Archives (ZIP, 7z, RAR)"),
}


@dataclass(frozen=True)
class FileKind:
    """One accepted file name extension: which families allow it, how its content is proven
    (`check`), and the type stored and sent back. `parts`: for "ooxml" the document's folder in
    the package, for "ole2" the stream names one of which the container must hold, for "odf"
    the package's declared mimetype."""

    ext: str
    families: tuple[str, ...]
    check: str
    mime: str
    parts: tuple[str, ...] = ()


_OOXML = "application/vnd.openxmlformats-officedocument."
_ODF = "application/vnd.oasis.opendocument."
# Password-protected Word/Excel/PowerPoint files are OLE2 containers holding the encrypted
# OOXML package, whatever their extension says.
_ENCRYPTED = ("EncryptedPackage",)
_WORD, _SHEET, _SLIDES = ("WordDocument",), ("Workbook", "Book"), ("PowerPoint Document",)
KINDS: dict[str, FileKind] = {
    k.ext: k
    for k in (
        FileKind("docx", ("office",), "ooxml", _OOXML + "wordprocessingml.document", ("word/",)),
        FileKind("xlsx", ("office",), "ooxml", _OOXML + "spreadsheetml.sheet", ("xl/",)),
        FileKind("pptx", ("office",), "ooxml", _OOXML + "presentationml.presentation", ("ppt/",)),
        FileKind("doc", ("office",), "ole2", "application/msword", _WORD),
        FileKind("xls", ("office",), "ole2", "application/vnd.ms-excel", _SHEET),
        FileKind("ppt", ("office",), "ole2", "application/vnd.ms-powerpoint", _SLIDES),
        # WPS Office (金山): the same OLE2 containers under its own extensions.
        FileKind("wps", ("office",), "ole2", "application/wps-office.wps", _WORD),
        FileKind("et", ("office",), "ole2", "application/wps-office.et", _SHEET),
        FileKind("dps", ("office",), "ole2", "application/wps-office.dps", _SLIDES),
        FileKind("odt", ("office",), "odf", _ODF + "text", (_ODF + "text",)),
        FileKind("ods", ("office",), "odf", _ODF + "spreadsheet", (_ODF + "spreadsheet",)),
        FileKind("odp", ("office",), "odf", _ODF + "presentation", (_ODF + "presentation",)),
        FileKind("csv", ("office", "text"), "text", "text/csv"),
        FileKind("pdf", ("pdf",), "pdf", "application/pdf"),
        FileKind("png", ("image",), "png", "image/png"),
        FileKind("jpg", ("image",), "jpeg", "image/jpeg"),
        FileKind("jpeg", ("image",), "jpeg", "image/jpeg"),
        FileKind("gif", ("image",), "gif", "image/gif"),
        FileKind("webp", ("image",), "webp", "image/webp"),
        FileKind("bmp", ("image",), "bmp", "image/bmp"),
        FileKind("txt", ("text",), "text", "text/plain"),
        FileKind("md", ("text",), "text", "text/markdown"),
        FileKind("zip", ("zip",), "zip", "application/zip"),
        FileKind("7z", ("zip",), "7z", "application/x-7z-compressed"),
        FileKind("rar", ("zip",), "rar", "application/vnd.rar"),
    )
}
# What the content's first bytes must be, and what puremagic must recognise them as.
SIGNATURES: dict[str, tuple[tuple[bytes, ...], frozenset[str]]] = {
    "png": ((b"\x89PNG\r\n\x1a\n",), frozenset({".png"})),
    "jpeg": ((b"\xff\xd8\xff",), frozenset({".jpg", ".jpeg", ".jfif", ".jpe"})),
    "gif": ((b"GIF87a", b"GIF89a"), frozenset({".gif"})),
    "webp": ((b"RIFF",), frozenset({".webp"})),
    "bmp": ((b"BM",), frozenset({".bmp", ".dib"})),
    "pdf": ((b"%PDF-",), frozenset({".pdf"})),
    "ole2": ((b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",), frozenset({".doc", ".xls", ".ppt"})),
    "7z": ((b"7z\xbc\xaf\x27\x1c",), frozenset({".7z"})),
    "rar": ((b"Rar!\x1a\x07",), frozenset({".rar"})),
}
ZIP_PREFIXES = (b"PK\x03\x04", b"PK\x05\x06")

# Characters a name must not carry: controls, and the bidirectional overrides that make
# "gpj.exe" look like "exe.jpg".
_NAME_DROP = re.compile(r"[\x00-\x1f\x7f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
# Control characters that do not occur in text files (tab, line breaks and form feed do).
_TEXT_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")


@dataclass(frozen=True)
class CheckedFile:
    """A file that passed `attachment_file_check`: what is stored with it."""

    name: str
    ext: str
    mime: str
    size: int
    sha256: str


# --- settings ---------------------------------------------------------------------------------


def attachment_max_bytes() -> int:
    return int(setting_get("attachment_max_mb")) * MIB


def attachment_allowed_families() -> list[str]:
    return [f for f in setting_get("attachment_types") if f in FAMILIES]


def attachment_allowed_extensions(families: Iterable[str] | None = None) -> list[str]:
    allowed = set(attachment_allowed_families() if families is None else families)
    return [ext for ext, kind in KINDS.items() if allowed & set(kind.families)]


def attachment_allowed_text(families: Iterable[str] | None = None) -> str:
    """The allowed kinds in words, for messages and the upload form's help."""
    chosen = attachment_allowed_families() if families is None else list(families)
    labels = [str(FAMILY_LABELS[f]) for f in FAMILIES if f in chosen]
    return _("; ").join(labels) if labels else _("none (uploads are switched off)")


def attachment_max_text() -> str:
    """The limit as people set it: "20 MB" (not filesizeformat's "20.0 MB")."""
    return f"{int(setting_get('attachment_max_mb'))} MB"


def attachment_too_large_message(name: str = "", size: int | None = None) -> str:
    limit = attachment_max_text()
    if name:
        return _("“%(name)s” is larger than %(limit)s, the largest file accepted.") % {
            "name": name,
            "limit": limit,
        }
    return _("Files of at most %(limit)s are accepted.") % {"limit": limit}


# --- checking a file --------------------------------------------------------------------------


def attachment_name_clean(raw: Any) -> str:
    """The name a file is listed and downloaded under: its last path part (browsers on some
    systems send the whole path), without control or direction characters, at most 200
    characters with its extension kept. Never used as a storage path."""
    name = unicodedata.normalize("NFC", str(raw or ""))
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = _NAME_DROP.sub("", name).strip()
    if len(name) > NAME_MAX:
        stem, dot, ext = name.rpartition(".")
        if dot and 0 < len(ext) <= 10:
            name = stem[: NAME_MAX - len(ext) - 1] + "." + ext
        else:
            name = name[:NAME_MAX]
    return name


def _extension(name: str) -> str:
    stem, dot, ext = name.rpartition(".")
    return ext.lower() if dot and stem else ""


def _magic_extensions(head: bytes) -> list[str]:
    try:
        return [m.extension for m in puremagic.magic_string(head) if m.extension]
    except (puremagic.PureError, ValueError):
        return []


def _detected_label(head: bytes) -> str:
    """What the content looks like, for a refusal ("EXE", "PNG"), or '' when unknown: the
    likeliest of puremagic's matches that has a registered type (its bare signatures also
    match obscure formats first)."""
    try:
        matches = [m for m in puremagic.magic_string(head) if m.extension]
    except (puremagic.PureError, ValueError):
        matches = []
    if matches:
        best = max(matches, key=lambda m: (bool(m.mime_type), m.confidence))
        return best.extension.lstrip(".").upper()
    if head.startswith(b"MZ"):
        return "EXE"
    if head.startswith(b"\x7fELF"):
        return "ELF"
    return ""


class _TextScan:
    """Whether a stream of bytes is text: UTF-8 (with or without BOM) or GB18030, decoded
    incrementally, with no NUL or other control characters text files do not have."""

    def __init__(self) -> None:
        self.decoders = {
            "utf-8": codecs.getincrementaldecoder("utf-8-sig")(),
            "gb18030": codecs.getincrementaldecoder("gb18030")(),
        }
        self.ok = {"utf-8": True, "gb18030": True}
        self.controls = {"utf-8": False, "gb18030": False}
        self.nul = False

    def feed(self, chunk: bytes, final: bool = False) -> None:
        if b"\x00" in chunk:
            self.nul = True
        for encoding, decoder in self.decoders.items():
            if not self.ok[encoding]:
                continue
            try:
                text = decoder.decode(chunk, final)
            except UnicodeDecodeError:
                self.ok[encoding] = False
                continue
            if _TEXT_CONTROLS.search(text):
                self.controls[encoding] = True

    def verdict(self) -> str:
        """'' for text; otherwise "binary" or "encoding"."""
        if self.nul:
            return "binary"
        readable = [e for e in ("utf-8", "gb18030") if self.ok[e]]
        if not readable:
            return "encoding"
        if all(self.controls[e] for e in readable):
            return "binary"
        return ""


class _NameScan:
    """Whether any of some names, UTF-16LE as OLE2 directories store them, occur in a stream
    (wherever the directory sectors are, without parsing the container)."""

    def __init__(self, names: Iterable[str]) -> None:
        self.needles = [n.encode("utf-16-le") for n in names]
        self.keep = max((len(n) for n in self.needles), default=0)
        self.tail = b""
        self.found = False

    def feed(self, chunk: bytes) -> None:
        if self.found or not self.needles:
            return
        window = self.tail + chunk
        if any(n in window for n in self.needles):
            self.found = True
        self.tail = window[-self.keep :]


def _zip_names(file: Any) -> list[str] | None:
    try:
        file.seek(0)
        with zipfile.ZipFile(file) as archive:
            return archive.namelist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError):
        return None


def _odf_mimetype(file: Any) -> str:
    try:
        file.seek(0)
        with zipfile.ZipFile(file) as archive:
            info = archive.getinfo("mimetype")
            if info.file_size > 200:
                return ""
            return archive.read(info).decode("ascii", "replace").strip()
    except (KeyError, zipfile.BadZipFile, OSError, ValueError, EOFError, RuntimeError):
        return ""


def _content_matches(kind: FileKind, head: bytes, file: Any, names_found: bool) -> bool:
    """Whether the bytes are what `kind` says (the text check is done while reading)."""
    if kind.check in SIGNATURES:
        prefixes, magic = SIGNATURES[kind.check]
        if not head.startswith(prefixes) or not magic & set(_magic_extensions(head)):
            return False
        if kind.check == "ole2":  # a container: which program's, its stream names tell
            return names_found
        return kind.check != "webp" or head[8:12] == b"WEBP"
    if not head.startswith(ZIP_PREFIXES):
        return False
    names = _zip_names(file)
    if names is None:
        return False
    if kind.check == "ooxml":
        return "[Content_Types].xml" in names and any(n.startswith(kind.parts[0]) for n in names)
    if kind.check == "odf":
        return _odf_mimetype(file) == kind.parts[0]
    return kind.check == "zip"


def _rewind(upload: Any) -> None:
    with contextlib.suppress(AttributeError, OSError, ValueError):
        upload.seek(0)


def attachment_file_check(
    *, upload: Any, families: Iterable[str] | None = None, max_bytes: int | None = None
) -> CheckedFile:
    """Prove `upload` (a Django File/UploadedFile) is an acceptable attachment.

    The extension picks the expected kind, which must be in an allowed family; the content
    must then be that kind (an .exe renamed .docx, or a PNG named .pdf, is refused). Reads the
    file once, in chunks, computing its SHA-256 and stopping as soon as it passes the limit.
    Raises ValidationFailed (422, field "file") or TooLargeError (413), with messages that
    name the allowed kinds or the limit.
    """
    if upload is None:
        raise ValidationFailed(fields={"file": [_("Choose a file to upload.")]})
    name = attachment_name_clean(getattr(upload, "name", ""))
    limit = attachment_max_bytes() if max_bytes is None else max_bytes
    allowed = list(attachment_allowed_families() if families is None else families)

    def refuse(message: str) -> ValidationFailed:
        return ValidationFailed(fields={"file": [message]})

    if not name:
        raise refuse(_("The file has no name."))
    ext = _extension(name)
    kind = KINDS.get(ext)
    if kind is None or not set(kind.families) & set(allowed):
        if not ext:
            raise refuse(
                _("“%(name)s” has no file extension. Accepted: %(kinds)s.")
                % {"name": name, "kinds": attachment_allowed_text(allowed)}
            )
        raise refuse(
            _("Files of type .%(ext)s are not accepted. Accepted: %(kinds)s.")
            % {"ext": ext, "kinds": attachment_allowed_text(allowed)}
        )
    declared = getattr(upload, "size", None)
    if declared is not None and declared > limit:
        raise TooLargeError(
            attachment_too_large_message(name, declared),
            fields={"file": [attachment_too_large_message(name, declared)]},
        )

    digest = hashlib.sha256()
    size = 0
    head = b""
    text = _TextScan() if kind.check == "text" else None
    names = _NameScan(kind.parts + _ENCRYPTED) if kind.check == "ole2" else None
    _rewind(upload)
    for chunk in upload.chunks(CHUNK):
        size += len(chunk)
        if size > limit:
            raise TooLargeError(
                attachment_too_large_message(name, size),
                fields={"file": [attachment_too_large_message(name, size)]},
            )
        digest.update(chunk)
        if len(head) < HEAD:
            head += chunk[: HEAD - len(head)]
        if text is not None:
            text.feed(chunk)
        if names is not None:
            names.feed(chunk)
    if size == 0:
        raise refuse(_("“%(name)s” is empty.") % {"name": name})

    if text is not None:
        text.feed(b"", final=True)
        verdict = text.verdict()
        if verdict == "binary":
            raise refuse(
                _("“%(name)s” is not a text file: it contains binary data.") % {"name": name}
            )
        if verdict == "encoding":
            raise refuse(
                _("“%(name)s” is not readable text: save it as UTF-8 or GB18030.") % {"name": name}
            )
    elif not _content_matches(
        kind, head, getattr(upload, "file", upload), bool(names and names.found)
    ):
        detected = _detected_label(head)
        if detected and detected.lower() != ext:
            message = _(
                "“%(name)s” is not really a .%(ext)s file: its content is of type %(detected)s."
            ) % {"name": name, "ext": ext, "detected": detected}
        else:
            message = _(
                "“%(name)s” is not really a .%(ext)s file: its content does not match its name."
            ) % {"name": name, "ext": ext}
        raise refuse(message)
    _rewind(upload)
    return CheckedFile(name=name, ext=ext, mime=kind.mime, size=size, sha256=digest.hexdigest())


# --- writes -----------------------------------------------------------------------------------


def _target(object_type: Any) -> AttachmentTarget:
    target = attachment_target(str(object_type or ""))
    if target is None:
        raise ValidationFailed(
            fields={
                "object_type": [
                    _("Choose one of: %(choices)s.")
                    % {"choices": ", ".join(sorted(attachment_targets()))}
                ]
            }
        )
    return target


def attachment_record_for_upload(
    *, actor: Any, object_type: Any, object_id: Any
) -> tuple[AttachmentTarget, Any]:
    """The record files are to be attached to: 422 for an unknown object type, 404 outside
    the actor's scope (the module's own selector decides), 403 without the right to attach."""
    target = _target(object_type)
    record = target.get(user=actor, object_id=object_id)
    if not target.can_attach(user=actor, instance=record):
        raise PermissionDeniedError()
    return target, record


def _file_line(
    *, actor: Any, target: AttachmentTarget, record: Any, attachment: Attachment, action: str
) -> None:
    customer_id = attachment.customer_id
    if customer_id is None:
        return  # a record that belongs to no customer has no timeline to write on
    timeline_record(
        customer_id=customer_id,
        kind="file",
        actor=actor,
        owner_id=target.owner_id(record),
        object_type=target.object_type,
        object_id=record.pk,
        data={"name": attachment.name, "attachment_id": attachment.pk, "action": action},
        module=target.module,
    )


def _store(
    *, actor: Any, target: AttachmentTarget, record: Any, upload: Any, checked: CheckedFile
) -> Attachment:
    attachment = Attachment(
        content_type=ContentType.objects.get_for_model(target.model),
        object_id=record.pk,
        customer_id=target.customer_id(record),
        name=checked.name,
        size=checked.size,
        mime_type=checked.mime,
        sha256=checked.sha256,
        uploaded_by=actor if getattr(actor, "pk", None) else None,
    )
    # The storage name comes from Attachment.file's upload_to (a random one); the user's file
    # name is only the label.
    attachment.file.save(checked.name, upload, save=False)
    stored = attachment.file.name
    try:
        attachment.save()
        audit_record(
            actor=actor,
            action=AuditEntry.Action.UPDATE,
            instance=record,
            changes=[{"field": "attachments", "before": None, "after": attachment.name}],
        )
        _file_line(actor=actor, target=target, record=record, attachment=attachment, action="added")
    except Exception:
        _storage_delete([stored])
        raise
    return attachment


@transaction.atomic
def attachment_create(*, actor: Any, object_type: Any, object_id: Any, upload: Any) -> Attachment:
    """Attach one uploaded file to a record the actor may see and attach to.

    422 (field object_type) for an unknown record type, 404 outside the actor's scope, 403
    without the right to attach, 422/413 (field file) for a file that is refused.
    """
    target, record = attachment_record_for_upload(
        actor=actor, object_type=object_type, object_id=object_id
    )
    checked = attachment_file_check(upload=upload)
    return _store(actor=actor, target=target, record=record, upload=upload, checked=checked)


@transaction.atomic
def attachments_create(
    *, actor: Any, object_type: Any, object_id: Any, uploads: list[Any]
) -> list[Attachment]:
    """Several files at once, all or none: every file is checked first, and the errors of all
    of them come back together (413 when one is too large, else 422)."""
    target, record = attachment_record_for_upload(
        actor=actor, object_type=object_type, object_id=object_id
    )
    uploads = [u for u in uploads if u is not None]
    if not uploads:
        raise ValidationFailed(fields={"file": [_("Choose a file to upload.")]})
    if len(uploads) > FILES_PER_UPLOAD:
        raise ValidationFailed(
            fields={
                "file": [
                    _("Upload at most %(count)d files at a time.") % {"count": FILES_PER_UPLOAD}
                ]
            }
        )
    checked: list[CheckedFile] = []
    messages: list[str] = []
    too_large = False
    for upload in uploads:
        try:
            checked.append(attachment_file_check(upload=upload))
        except TooLargeError as exc:
            too_large = True
            messages.extend(str(m) for m in exc.fields.get("file", [exc.message]))
        except ValidationFailed as exc:
            messages.extend(str(m) for m in exc.fields.get("file", []))
    if messages:
        error = TooLargeError if too_large else ValidationFailed
        raise error(messages[0] if too_large else None, fields={"file": messages})
    return [
        _store(actor=actor, target=target, record=record, upload=u, checked=c)
        for u, c in zip(uploads, checked, strict=True)
    ]


@transaction.atomic
def attachment_delete(*, actor: Any, attachment: Attachment) -> Attachment:
    """Move a file to the recycle bin (kept for `recycle_bin_days`, then purged): allowed to
    its uploader and to whoever may attach files to its record; audited on the record."""
    locked = (
        Attachment.objects.select_for_update()
        .filter(pk=attachment.pk, deleted_at__isnull=True)
        .first()
    )
    if locked is None:
        raise NotFoundError()
    target, record = _record_of(actor, locked)
    own = actor.pk is not None and locked.uploaded_by_id == actor.pk
    if not own and not target.can_attach(user=actor, instance=record):
        raise PermissionDeniedError()
    locked.deleted_at = timezone.now()
    locked.deleted_by = actor
    locked.save(update_fields=["deleted_at", "deleted_by"])
    audit_record(
        actor=actor,
        action=AuditEntry.Action.UPDATE,
        instance=record,
        changes=[{"field": "attachments", "before": locked.name, "after": None}],
    )
    _file_line(actor=actor, target=target, record=record, attachment=locked, action="removed")
    return locked


def _storage_delete(names: Iterable[str]) -> None:
    for name in names:
        if not name:
            continue
        try:
            default_storage.delete(name)
        except Exception:  # a file already gone, a bucket briefly unreachable: log, go on
            logger.warning("could not delete stored attachment %s", name, exc_info=True)


def _purge(rows: Any) -> int:
    """Delete rows and, once the deletion is committed, their stored files."""
    found = list(rows.values_list("pk", "file"))
    if not found:
        return 0
    Attachment.objects.filter(pk__in=[pk for pk, _name in found]).delete()
    names = [name for _pk, name in found]
    transaction.on_commit(lambda: _storage_delete(names))
    return len(found)


def attachments_purge_for(*, object_type: str, object_ids: Iterable[int]) -> int:
    """Remove every file of these records, rows and stored files (for the purge sweeps of the
    records' modules: purging a record purges its files; deleting it kept them). Collect the
    ids before deleting records that cascade (a customer's opportunities and follow-ups)."""
    ids = sorted({int(i) for i in object_ids})
    target = attachment_target(object_type)
    if not ids or target is None:
        return 0
    content_type = ContentType.objects.get_for_model(target.model)
    return _purge(Attachment.objects.filter(content_type=content_type, object_id__in=ids))


def attachments_purge_expired(*, now: dt.datetime | None = None) -> int:
    """The sweep: files in the recycle bin longer than `recycle_bin_days` are removed for
    good, each with an audit entry. Idempotent."""
    days = int(setting_get("recycle_bin_days"))
    cutoff = (now or timezone.now()) - dt.timedelta(days=days)
    purged = 0
    expired = Attachment.objects.filter(deleted_at__lt=cutoff).order_by("pk")
    for attachment in expired.iterator():
        with transaction.atomic():
            audit_record(actor="system", action=AuditEntry.Action.PURGE, instance=attachment)
            purged += _purge(Attachment.objects.filter(pk=attachment.pk))
    return purged


# --- reads ------------------------------------------------------------------------------------


def _live():
    return Attachment.objects.filter(deleted_at__isnull=True)


def _require_view(user: Any, target: AttachmentTarget) -> None:
    if not user_can(user, target.module, "view"):
        raise PermissionDeniedError()


def _record_of(user: Any, attachment: Attachment) -> tuple[AttachmentTarget, Any]:
    model = ContentType.objects.get_for_id(attachment.content_type_id).model_class()
    target = attachment_target_for_model(model) if model is not None else None
    if target is None:
        raise NotFoundError()
    _require_view(user, target)
    return target, target.get(user=user, object_id=attachment.object_id)


def _of_record(target: AttachmentTarget, record: Any):
    return (
        _live()
        .filter(content_type=ContentType.objects.get_for_model(target.model), object_id=record.pk)
        .select_related("uploaded_by")
        .order_by("-created_at", "-id")
    )


def attachments_on_record(*, object_type: str, record: Any) -> list[Attachment]:
    """The live files of a record the caller has already read through its module's scoped
    selector (a page showing that record), newest first; each carries `.record`/`.target`."""
    target = _target(object_type)
    rows = list(_of_record(target, record))
    for row in rows:
        row.record, row.target = record, target
    return rows


def attachments_for(*, user: Any, object_type: Any, object_id: Any):
    """The live files of one record as a queryset, newest first, if `user` may see the
    record (else 404; 403 without the module's view permission; 422 for an unknown type)."""
    target = _target(object_type)
    _require_view(user, target)
    record = target.get(user=user, object_id=object_id)
    return _of_record(target, record)


def attachments_for_customer(*, user: Any, customer: Any) -> list[Attachment]:
    """Every live file that belongs to a customer (on the customer itself, its opportunities,
    its follow-ups ...) whose record `user` may see, newest first (at most 200).

    `customer` comes from the customers selector. Each record type's scope is checked with
    one query for all its records (the target's `visible` queryset), never one per file.
    """
    rows = list(
        _live()
        .filter(customer_id=customer.pk)
        .select_related("uploaded_by")
        .order_by("-created_at", "-id")[:CUSTOMER_FILES_SHOWN]
    )
    by_type: dict[int, list[Attachment]] = {}
    for row in rows:
        by_type.setdefault(row.content_type_id, []).append(row)
    records: dict[tuple[int, int], Any] = {}
    targets: dict[int, AttachmentTarget] = {}
    for content_type_id, group in by_type.items():
        model = ContentType.objects.get_for_id(content_type_id).model_class()
        target = attachment_target_for_model(model) if model is not None else None
        if target is None or not user_can(user, target.module, "view"):
            continue
        targets[content_type_id] = target
        ids = {row.object_id for row in group}
        if target.model is type(customer) and ids == {customer.pk}:
            found = [customer]
        elif target.visible is not None:
            found = list(target.visible(user).filter(pk__in=sorted(ids)))
        else:  # a target without a scoped queryset: ask its selector per record
            found = []
            for pk in sorted(ids):
                try:
                    found.append(target.get(user=user, object_id=pk))
                except NotFoundError:
                    continue
        for record in found:
            records[(content_type_id, record.pk)] = record
    visible = []
    for row in rows:
        record = records.get((row.content_type_id, row.object_id))
        if record is not None:
            row.record, row.target = record, targets[row.content_type_id]
            visible.append(row)
    return visible


def attachment_get(*, user: Any, attachment_id: Any) -> Attachment:
    """One live file whose record `user` may see (404 otherwise, as for the record itself;
    403 without the view permission of the record's module). Carries `.record`/`.target`."""
    try:
        pk = int(attachment_id)
    except (TypeError, ValueError):
        raise NotFoundError() from None
    if not 1 <= pk <= 2**63 - 1:
        raise NotFoundError()
    attachment = _live().select_related("uploaded_by").filter(pk=pk).first()
    if attachment is None:
        raise NotFoundError()
    attachment.target, attachment.record = _record_of(user, attachment)
    return attachment


def attachment_open(attachment: Attachment) -> Any:
    """The stored file, opened for reading (streamed by the download views); 404 when the
    storage no longer has it, rather than a server error."""
    try:
        return attachment.file.storage.open(attachment.file.name, "rb")
    except (FileNotFoundError, OSError) as exc:
        logger.warning("attachment %s: stored file %s is missing", attachment.pk, exc)
        raise NotFoundError(_("The file is missing from the storage.")) from None


def attachment_file_response(attachment: Any) -> FileResponse:
    """The download answer shared by the web view and the API: always a download, never
    shown inline, so an uploaded HTML page or script can never run under the CRM's origin."""
    response = FileResponse(
        attachment_open(attachment),
        as_attachment=True,
        filename=attachment.name,  # Django writes filename*=UTF-8'' (RFC 5987) when needed
        content_type=attachment.mime_type,
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


def file_line_render(data: dict[str, Any]) -> str:
    """The timeline's "file" line, in the reader's language."""
    name = data.get("name", "")
    if data.get("action") == "removed":
        return _("Removed the file “%(name)s”") % {"name": name}
    return _("Added the file “%(name)s”") % {"name": name}


FILE_LINE_LABEL = gettext_lazy("Files")
