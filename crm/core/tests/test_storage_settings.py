"""Where attachments are stored (issue 6 §3): a folder by default, an S3-compatible bucket
when CRM_S3_BUCKET is set, private either way (checked without any network)."""

from __future__ import annotations

from crm.settings import storages_config


def test_without_a_bucket_files_go_to_the_local_folder():
    storages = storages_config({})
    assert storages["default"] == {"BACKEND": "django.core.files.storage.FileSystemStorage"}
    assert "staticfiles" in storages


def test_a_bucket_switches_to_private_s3_storage_with_signed_urls():
    storages = storages_config(
        {
            "CRM_S3_BUCKET": "crm-files",
            "CRM_S3_ENDPOINT_URL": "https://oss-cn-hangzhou.aliyuncs.com",
            "CRM_S3_ACCESS_KEY": "AK",
            "CRM_S3_SECRET_KEY": "SK",
            "CRM_S3_REGION": "cn-hangzhou",
        }
    )
    assert storages["default"] == {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": "crm-files",
            "endpoint_url": "https://oss-cn-hangzhou.aliyuncs.com",
            "access_key": "AK",
            "secret_key": "SK",
            "region_name": "cn-hangzhou",
            "default_acl": "private",
            "querystring_auth": True,
            "file_overwrite": False,
        },
    }


def test_aws_needs_no_endpoint():
    options = storages_config({"CRM_S3_BUCKET": "b"})["default"]["OPTIONS"]
    assert options["endpoint_url"] is None and options["bucket_name"] == "b"
