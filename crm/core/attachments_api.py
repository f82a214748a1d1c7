"""The attachments API (issue 6 §3, §6): files on any record, through crm.core.files.

Uploads are multipart (`file`, `object_type`, `object_id`); downloads stream the stored file
to callers who may see its record, never through a public URL.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest
from ninja import File, Form, Query, Router, Status
from ninja.files import UploadedFile
from pydantic import Field

from crm.core.api import (
    OutSchema,
    PageParams,
    ParamInt,
    Text,
    errors,
    id_checked,
    page_envelope,
)
from crm.core.body_limit import api_upload_path_register
from crm.core.files import (
    attachment_create,
    attachment_delete,
    attachment_file_response,
    attachment_get,
    attachments_for,
)
from crm.core.models import Attachment
from crm.core.pagination import paginate

router = Router(tags=["attachments"])
UPLOAD_PATH = "/api/v1/attachments"
api_upload_path_register(UPLOAD_PATH)


class AttachmentOut(OutSchema):
    id: int
    name: str = Field(description="The file's name as uploaded (without any folder).")
    size: int = Field(description="Bytes.")
    content_type: str = Field(description="The type found in the file's content, e.g. image/png.")
    object_type: str = Field(description="customer, opportunity or followup.")
    object_id: int
    customer_id: int | None = Field(description="The customer the record belongs to.")
    uploaded_by_id: int | None
    created_at: dt.datetime
    sha256: str


class AttachmentPageOut(OutSchema):
    items: list[AttachmentOut]
    page: int
    page_size: int
    has_next: bool
    next: str | None


class AttachmentListParams(PageParams):
    object_type: Text = Field(max_length=40, description="customer, opportunity or followup.")
    object_id: ParamInt = Field(ge=1, le=2**63 - 1)


def attachment_out(attachment: Attachment, object_type: str) -> dict[str, Any]:
    return {
        "id": attachment.pk,
        "name": attachment.name,
        "size": attachment.size,
        "content_type": attachment.mime_type,
        "object_type": object_type,
        "object_id": attachment.object_id,
        "customer_id": attachment.customer_id,
        "uploaded_by_id": attachment.uploaded_by_id,
        "created_at": attachment.created_at,
        "sha256": attachment.sha256,
    }


@router.get(
    "/attachments",
    response={200: AttachmentPageOut, **errors(404)},
    summary="The files of one record",
    description=(
        "Newest first, paginated like every list. 404 when the record is outside the "
        "caller's data scope, 422 naming `object_type` for an unknown record type."
    ),
)
def attachment_list_api(request: HttpRequest, params: Query[AttachmentListParams]):
    rows = attachments_for(
        user=request.auth, object_type=params.object_type, object_id=params.object_id
    )
    page = paginate(rows, page=params.page, size=params.page_size)
    return page_envelope(request, page, [attachment_out(a, params.object_type) for a in page.items])


@router.post(
    "/attachments",
    response={201: AttachmentOut, **errors(404)},
    summary="Attach a file to a record",
    description=(
        "multipart/form-data with `file`, `object_type` (customer, opportunity, followup) and "
        "`object_id`. The file's real type is read from its content and must agree with its "
        "extension and be among the kinds an administrator allows (office documents, PDF, "
        "images, text, archives by default): 422 naming `file` otherwise. Over the size "
        "limit (20 MB by default): 413 `too_large`. 404 when the record is outside the "
        "caller's scope, 403 without the right to change it."
    ),
)
def attachment_upload_api(
    request: HttpRequest,
    file: File[UploadedFile],
    object_type: Form[Text],
    object_id: Form[ParamInt],
):
    attachment = attachment_create(
        actor=request.auth, object_type=object_type, object_id=object_id, upload=file
    )
    return Status(201, attachment_out(attachment, object_type))


@router.get(
    "/attachments/{attachment_id}",
    response={200: None},
    summary="Download a file",
    description=(
        "The stored file itself (`Content-Disposition: attachment` with the original name, "
        "`Content-Type` the type found at upload), to callers who may see its record; 404 "
        "otherwise."
    ),
    openapi_extra={
        "responses": {
            200: {
                "description": "The file.",
                "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
            }
        }
    },
)
def attachment_download_api(request: HttpRequest, attachment_id: ParamInt):
    attachment = attachment_get(user=request.auth, attachment_id=id_checked(attachment_id))
    return attachment_file_response(attachment)


@router.delete(
    "/attachments/{attachment_id}",
    response={204: None},
    summary="Delete a file",
    description=(
        "To the recycle bin (purged after the retention period). Allowed to its uploader and "
        "to whoever may change its record."
    ),
)
def attachment_delete_api(request: HttpRequest, attachment_id: ParamInt):
    attachment = attachment_get(user=request.auth, attachment_id=id_checked(attachment_id))
    attachment_delete(actor=request.auth, attachment=attachment)
    return Status(204, None)
