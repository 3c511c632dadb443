"""`answer`: answer a triage question."""

from __future__ import annotations

from bot.core.commands import AnswerQuestion
from handlers.context import Context, Refusal
from handlers.triage_flow import after_answer, record_answer


async def answer(ctx: Context, command: AnswerQuestion) -> None:
    """answer <question> <option>

    Answer a triage question by option number or key, e.g. `answer Q3 2` or `answer Q8 unknown`.
    Answers can be changed until triage closes.
    """
    incident = ctx.require_incident()
    question = ctx.services.questionnaire.question(command.question)
    if question is None:
        raise Refusal(f"There is no question {command.question}.")
    said, events = record_answer(ctx, incident, question, command.option)
    await after_answer(ctx, incident, question.id, said, events)
