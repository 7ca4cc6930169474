"""The import wizard (issue #19): Admin > Data Management > "New import…", and "Import…" on the
leads, clients and products lists for roles with the `import` permission."""

from crm_desktop.views.imports.wizard import ImportWizard, open_wizard

__all__ = ["ImportWizard", "open_wizard"]
