from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DataioConfig(AppConfig):
    name = "crm.dataio"
    label = "dataio"
    verbose_name = _("Data in and out")

    def ready(self) -> None:
        from crm.core.sweeps import sweep_register
        from crm.dataio.backup_services import backup_sweep
        from crm.dataio.exports import exports_purge_expired

        # Large exports' files leave storage after CRM_EXPORT_KEEP_DAYS (7 by default).
        sweep_register("exports_purge", exports_purge_expired)
        # The daily backup (SYS-3): the sweep itself waits for the configured hour.
        sweep_register("backup_daily", backup_sweep)
