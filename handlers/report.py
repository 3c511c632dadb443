"""Concluding the record (policy §7): at closing the report is rendered from the log, posted
into the war room as files and saved in the reports directory — never saved under TLP:RED.
"""

from __future__ import annotations

from bot.core.incident import Incident
from bot.core.tlp import TLP
from bot.port import Outbound
from bot.reporting.files import write_report
from bot.reporting.render import Report, Stamp, render
from handlers.context import Services, log
from handlers.marking import speaker
from handlers.team_flow import bot_event

WAR_ROOM_ONLY = "war room only"
FORMATS = (("md", "text/markdown"), ("html", "text/html"))


def render_report(services: Services, incident: Incident) -> Report:
    """The report from the log, stamped with the time and the log head it was made from."""
    roster = services.roster
    names = {person.id: (person.name, person.org) for person in roster.people}
    orgs = {org.id: org.name for org in roster.orgs}
    entry, head = services.store.log_head()
    stamp = Stamp(services.clock.now(), entry, head, services.display_zone)
    return render(incident, services.store.log(incident.id), names, orgs, stamp)


async def post_report(services: Services, incident: Incident, report: Report) -> list[str]:
    """Upload the report into every war room it may go to; returns their platforms.

    A TLP:RED report is attached only in an end-to-end-encrypted war room (policy §5).
    """
    posted = []
    title = f"Incident report {incident.id} ({incident.tlp.value})"
    for room in incident.rooms.values():
        platform = speaker(services.platforms, incident, room.platform)
        if platform is None:
            continue
        if incident.tlp is TLP.RED and not platform.end_to_end_encrypted:
            continue
        for extension, mimetype in FORMATS:
            content = (report.markdown if extension == "md" else report.html).encode()
            filename = f"{report.filename_stem}.{extension}"
            await platform.upload_file(room.room_id, filename, content, mimetype, title)
        posted.append(room.platform)
    return posted


def save_report(services: Services, incident: Incident, report: Report) -> tuple[list[str], str]:
    """Write the files unless the label forbids it; returns (paths, why none when empty)."""
    if incident.tlp is TLP.RED:
        return [], f"{TLP.RED.value}: never written to a file"
    if services.reports_dir is None:
        return [], WAR_ROOM_ONLY
    try:
        return [str(path) for path in write_report(incident, report, services.reports_dir)], ""
    except OSError as error:
        log.warning("%s: could not save the report: %s", incident.id, error)
        return [], f"{WAR_ROOM_ONLY} (saving failed: {error.strerror or error})"


async def tell_audit_room(services: Services, incident: Incident) -> None:
    """Post the log head to the audit room, so that a copy of it lives outside the database
    (a log cut back to an older head is caught by `rrt log verify --head`)."""
    if services.audit_room is None:
        return
    platform_name, room = services.audit_room
    platform = services.platforms.get(platform_name)
    if platform is None:
        log.warning("the audit room's platform %s is not connected", platform_name)
        return
    seq, head = services.store.log_head()
    await platform.send(
        room, Outbound(text=f"Log head after closing {incident.id}: entry {seq}, sha256 {head}")
    )


async def conclude(services: Services, incident: Incident) -> str:
    """Render, post and save the report of a closed incident; log and say where it went."""
    report = render_report(services, incident)
    posted = await post_report(services, incident, report)
    paths, kept = save_report(services, incident, report)
    event = bot_event(
        services,
        incident,
        "report_written",
        paths=paths,
        where=kept or "reports directory",
        posted_in=posted,
    )
    services.store.append([event])
    await tell_audit_room(services, incident)
    if paths:
        saved = "Saved as " + ", ".join(f"`{path}`" for path in paths) + "."
    else:
        saved = f"No file was saved ({kept})."
    if incident.tlp is TLP.RED and len(posted) < len(incident.rooms):
        where = (
            f"Under {TLP.RED.value} the report is attached only in an end-to-end-encrypted war "
            f"room; on the bot's host, `rrt report {incident.id}` makes it from the record."
        )
    else:
        where = "The report is posted above." if posted else "The report could not be posted here."
    return f"{where} {saved}"
