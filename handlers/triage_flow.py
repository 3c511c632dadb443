"""The triage dialogue: ask the next question in the war room, take answers, propose a level."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.core.events import LogEvent
from bot.core.incident import Answer, Incident
from bot.core.levels import Level
from bot.core.triage import UNKNOWN, Question, QuestionKind, evaluate, next_question, raise_only
from bot.port import Button
from handlers.clocks import announce_started, reconcile_clocks
from handlers.context import Context, Refusal, Services
from handlers.team_flow import assemble_for_level
from handlers.timer_sync import sync_timers
from handlers.warroom import announce, refresh

TRIAGE_KEY = "triage:"


def question_buttons(question: Question) -> tuple[Button, ...]:
    options = [
        Button(label=option.label, value=f"answer {question.id} {option.key}")
        for option in question.options
    ]
    return (*options, Button(label="Unknown", value=f"answer {question.id} {UNKNOWN}"))


def question_text(questionnaire_size: int, position: int, question: Question) -> str:
    return f"Triage {position}/{questionnaire_size} · {question.id}: {question.text}"


async def ask(services: Services, incident: Incident, question: Question) -> None:
    questions = services.questionnaire.questions
    text = question_text(len(questions), questions.index(question) + 1, question)
    sent = await announce(services, incident, text, question_buttons(question))
    for platform, message in sent.items():
        services.store.bind_prompt(
            platform, message.message_id, incident.id, TRIAGE_KEY + question.id
        )


async def ask_next(services: Services, incident: Incident) -> None:
    answers = {key: answer.option for key, answer in incident.answers.items()}
    question = next_question(services.questionnaire, answers)
    if question is not None:
        await ask(services, incident, question)


def _resolve_option(question: Question, option: str) -> str:
    """The option key the user meant, or a Refusal listing what is allowed."""
    if option == UNKNOWN:
        return UNKNOWN
    if question.kind is QuestionKind.TIME and option not in ("declared", "1"):
        try:
            moment = datetime.fromisoformat(option.upper().replace("Z", "+00:00"))
        except ValueError:
            raise Refusal(
                f"{question.id} takes `declared` or a UTC time like 2026-11-30T08:15."
            ) from None
        return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).isoformat()
    chosen = question.option(option)
    if chosen is None:
        keys = ", ".join(f"{n} {o.key}" for n, o in enumerate(question.options, 1))
        raise Refusal(f"{question.id} has no option `{option[:40]}`. Choose: {keys}, or unknown.")
    return chosen.key


def record_answer(
    ctx: Context, incident: Incident, question: Question, option: str
) -> tuple[str, list[LogEvent]]:
    """Store the answer and re-evaluate; returns what to say and what was logged.

    Raises Refusal when triage is closed.
    """
    previous = incident.answers.get(question.id)
    reopening = previous is not None and previous.option == UNKNOWN
    if not incident.triage_open and not reopening:
        raise Refusal("Triage is closed; only questions answered `unknown` can still be answered.")
    key = _resolve_option(question, option)
    incident.answers[question.id] = Answer(
        question=question.id, option=key, author=ctx.person.id, at=ctx.now
    )
    events = [
        ctx.event(
            "answered",
            question=question.id,
            option=key,
            previous=previous.option if previous else None,
        )
    ]
    if question.kind is QuestionKind.TIME:
        incident.t0 = (
            incident.declared_at if key in ("declared", UNKNOWN) else (datetime.fromisoformat(key))
        )
    if question.kind in (QuestionKind.TIME, QuestionKind.DUTY):
        events += reconcile_clocks(ctx.services, incident, ctx.person.id)
    said = f"{question.id} → {key} (answered by {ctx.person.name})."
    answers = {k: a.option for k, a in incident.answers.items()}
    result = evaluate(ctx.services.questionnaire, answers)
    incident.score, incident.band = result.score, result.band
    incident.police_liaison_required = (
        incident.police_liaison_required or result.police_liaison_required
    )
    if result.complete:
        proposal = raise_only(incident.proposed_level, result.level)
        incident.explanation = result.explanation
        if proposal is not incident.proposed_level:
            incident.proposed_level = proposal
            events.append(
                ctx.event(
                    "level_proposed",
                    level=proposal.value,
                    score=result.score,
                    band=result.band,
                    rule=result.rule,
                    explanation=result.explanation,
                )
            )
            said += f"\nProposed level {proposal.value}: {result.explanation}"
            if _above_confirmed(incident, proposal):
                said += " A coordinator confirms with `confirm`."
    ctx.services.store.save(incident, events)
    sync_timers(ctx.services, incident)
    return said, events


def _above_confirmed(incident: Incident, proposal: Level) -> bool:
    confirmed = incident.confirmed_level
    return confirmed is None or proposal.rank > confirmed.rank


async def after_answer(
    ctx: Context, incident: Incident, question_id: str, said: str, events: list[LogEvent]
) -> None:
    await ctx.reply(said)
    await refresh(ctx.services, incident)
    await announce_started(ctx.services, incident, events)
    if any(event.kind == "level_proposed" for event in events):
        await assemble_for_level(ctx.services, incident)
    answers = {k: a.option for k, a in incident.answers.items()}
    pending = next_question(ctx.services.questionnaire, answers)
    if incident.triage_open and pending is not None:
        # Only ask again when the question just answered was the one being asked.
        order = [q.id for q in ctx.services.questionnaire.questions]
        if order.index(pending.id) > order.index(question_id):
            await ask(ctx.services, incident, pending)
