"""Data in and out (SYS-3, SYS-4): imports, exports, backups. Every module declares its part
(crm/<app>/dataio.py); this app holds the mechanisms."""
