"""The "Download template" workbook of an entity: its header row (required columns marked with *),
dropdowns of the allowed values (statuses, sources, owners by e-mail, VAT rates, currencies) kept on
a hidden "Lists" sheet, and a "Help" sheet explaining each column with an example."""

from __future__ import annotations

import io

from openpyxl import Workbook
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from crm_server.contract import spreadsheet
from crm_server.contract.imports import TemplateField

REQUIRED_MARK = " *"
ROWS_WITH_DROPDOWNS = 5000
TYPE_WORDS = {
    "text": "Text",
    "email": "E-mail address",
    "phone": "Phone number",
    "number": "Number",
    "money": "Amount (a dot or a comma for decimals)",
    "date": "Date (2027-03-31)",
    "choice": "One of the allowed values",
    "tags": "Words separated by commas",
}


def header(field: TemplateField) -> str:
    return field.label + (REQUIRED_MARK if field.required else "")


def workbook(title: str, fields: list[TemplateField]) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = title[:31]
    lists = book.create_sheet("Lists")
    lists.sheet_state = "hidden"
    help_sheet = book.create_sheet("Help")
    bold = Font(bold=True)
    required_fill = PatternFill("solid", fgColor="FFE699")
    list_column = 0
    for index, field in enumerate(fields, start=1):
        cell = sheet.cell(row=1, column=index, value=header(field))
        cell.font = bold
        if field.required:
            cell.fill = required_fill
        sheet.column_dimensions[get_column_letter(index)].width = max(14, len(header(field)) + 4)
        if field.choices:
            list_column += 1
            letter = get_column_letter(list_column)
            for row, value in enumerate(field.choices, start=1):
                lists.cell(row=row, column=list_column, value=spreadsheet.safe_text(value))
            validation = DataValidation(
                type="list",
                formula1=f"=Lists!${letter}$1:${letter}${len(field.choices)}",
                allow_blank=True,
                showErrorMessage=True,
                errorTitle="Not an allowed value",
                error=f"Choose one of the allowed values of {field.label}.",
            )
            column = get_column_letter(index)
            validation.add(f"{column}2:{column}{ROWS_WITH_DROPDOWNS}")
            sheet.add_data_validation(validation)
    sheet.freeze_panes = "A2"
    help_sheet.append(["Column", "Required", "Type", "Allowed values", "Example", "What it is"])
    for cell in help_sheet[1]:
        cell.font = bold
    for field in fields:
        allowed = ", ".join(field.choices[:50]) + (" ..." if len(field.choices) > 50 else "") if field.choices else ""
        help_sheet.append(
            spreadsheet.xlsx_row(
                help_sheet,
                [header(field), "Yes" if field.required else "No", TYPE_WORDS.get(field.type, field.type), allowed,
                 field.example, field.help],
            )
        )  # fmt: skip
    for letter, width in zip("ABCDEF", (24, 10, 30, 50, 26, 60), strict=True):
        help_sheet.column_dimensions[letter].width = width
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
