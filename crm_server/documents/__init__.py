"""Printed documents: invoices, credit notes and proposals as PDFs, drawn with reportlab from the
template in resources/pdf/document.json (layout.py: template and data, pdf.py: drawing, sources.py:
reading them from the database)."""
