"""Partners' commission reports by e-mail: with the setting `commissions.partner_report` "weekly"
(sent on Mondays) or "monthly" (on the 1st), each active partner's users who have set their
password get their company's commissions: earned, pending and paid, and by month, with the months
as an .xlsx (the scheduled reports' habit). An admin's "run now" sends at once whatever the day.
Built in one transaction, sent after it; a partner whose mail fails does not stop the others."""

from __future__ import annotations

import io
import logging
from datetime import date

from sqlalchemy import select

from crm_server import mail
from crm_server.admin import settings
from crm_server.commissions.payouts import partner_summary
from crm_server.contract import spreadsheet
from crm_server.contract.commissions import PartnerSummary
from crm_server.db import Database
from crm_server.partners.models import Partner, PartnerUser

log = logging.getLogger(__name__)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def due(frequency: str, today: date, manual: bool) -> bool:
    if frequency == "off":
        return False
    if manual:
        return True
    return (frequency == "weekly" and today.isoweekday() == 1) or (frequency == "monthly" and today.day == 1)


def body(name: str, summary: PartnerSummary, today: date) -> str:
    unit = f" {summary.currency}" if summary.currency else ""
    lines = [
        f"Commission report for {name}, {today.isoformat()}.",
        "",
        f"Earned: {summary.earned:,.2f}{unit}",
        f"Pending: {summary.pending:,.2f}{unit}",
        f"Paid: {summary.paid:,.2f}{unit}",
        "",
    ]
    if summary.months:
        lines.append("By month (earned / pending / paid):")
        for m in summary.months[:12]:
            lines.append(f"{m.month:%B %Y}: {m.earned:,.2f} / {m.pending:,.2f} / {m.paid:,.2f} {m.currency}")
    else:
        lines.append("No commission yet: it is counted once a deal's invoice is paid and the waiting days have passed.")
    lines += ["", "The months are attached (.xlsx). Your dashboard in the partner portal shows the same."]
    return "\n".join(lines)


def workbook(summary: PartnerSummary) -> bytes:
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet("Commission")
    sheet.append(spreadsheet.xlsx_row(sheet, ["Month", "Currency", "Earned", "Pending", "Paid"]))
    for m in summary.months:
        sheet.append(spreadsheet.xlsx_row(sheet, [m.month, m.currency, m.earned, m.pending, m.paid]))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


async def run(db: Database, today: date, manual: bool = False) -> str:
    """Send the reports due today (every partner's when `manual`); returns what happened."""
    mails: list[tuple[str, str, str, bytes]] = []
    async with db.transaction() as session:
        frequency = str(await settings.get(session, "commissions.partner_report"))
        if not due(frequency, today, manual):
            return f"not due (setting: {frequency})"
        partners = (await session.scalars(select(Partner).where(Partner.active).order_by(Partner.id))).all()
        for partner in partners:
            people = (
                await session.scalars(
                    select(PartnerUser.email).where(
                        PartnerUser.partner_id == partner.id,
                        PartnerUser.active,
                        PartnerUser.password_hash.is_not(None),
                    )
                )
            ).all()
            if not people:
                continue
            summary = await partner_summary(session, partner.id)
            text, data = body(partner.name, summary, today), workbook(summary)
            subject = f"Your commission report, {today.isoformat()}"
            mails += [(email, subject, text, data) for email in people]
    sent, failed = 0, 0
    for to, subject, text, data in mails:
        try:
            async with db.transaction() as session:
                await mail.send(session, to, subject, text, [(f"commission-{today.isoformat()}.xlsx", XLSX, data)])
            sent += 1
        except Exception:  # one partner's failure does not stop the others; the job log says so
            log.exception("the commission report to a partner user could not be sent")
            failed += 1
    return f"sent to {sent}" + (f", {failed} failed" if failed else "")
