"""The declarative template of invoice, credit note and proposal PDFs (document.json)."""
