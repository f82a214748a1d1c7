"""The app's tables, one file per concern (imports, exports, backups), gathered here."""

from crm.dataio.models.backups import Backup, BackupStatus, BackupTrigger  # noqa: F401
from crm.dataio.models.exports import ExportJob  # noqa: F401
from crm.dataio.models.imports import ImportJob, ImportMapping, ImportRejection  # noqa: F401
