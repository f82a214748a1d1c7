"""The app's tables, one file per concern (imports, exports, backups), gathered here."""
