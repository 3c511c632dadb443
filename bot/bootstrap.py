"""The composition root: the one place that wires real or fake parts together."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.adapter_state import WriteBehind
from bot.core.clock import Clock, SystemClock
from bot.core.roster import Roster
from bot.core.triage import Questionnaire
from bot.effects import RecordingPlatform
from bot.leadership import Leadership, SoleLeader
from bot.port import ChatPlatform
from bot.runtime import Runtime
from bot.scheduler import REPLICA_SWEEP, Scheduler
from config.policy import Policy, load_policy
from config.roster import load_roster
from config.settings import Settings
from config.triage import load_questionnaire
from handlers.context import Rules, Services
from storage.db import is_postgresql, sqlite_path
from storage.process_lock import ProcessLock, hold
from storage.sql_store import SqlStore, open_store


@dataclass
class Bot:
    services: Services
    dispatcher: Runtime  # every adapter's `on_inbound`
    store: SqlStore
    settings: Settings
    scheduler: Scheduler
    adapter_state: WriteBehind  # what Slack and Matrix remember, written off the event loop
    platforms: list[ChatPlatform] = field(default_factory=list)
    process_lock: ProcessLock | None = None  # on a SQLite file: no other process runs on it

    def attach(self, platform: ChatPlatform) -> None:
        """Connect a platform: handlers speak to it through the outbox, delivery for real."""
        self.dispatcher.platforms[platform.name] = platform
        self.services.platforms[platform.name] = RecordingPlatform(
            platform.name, self.store, end_to_end_encrypted=platform.end_to_end_encrypted
        )
        self.platforms.append(platform)

    def platform(self, name: str) -> ChatPlatform:
        return self.dispatcher.platforms[name]

    def hold_database(self) -> None:
        """On a SQLite file, make sure no other process runs a bot on it (raises
        `storage.process_lock.DatabaseInUse`); PostgreSQL serves any number of replicas."""
        path = sqlite_path(self.store.engine.url)
        if path is not None and self.process_lock is None:
            self.process_lock = hold(path)

    def leadership(self, role: str) -> Leadership:
        """Who among the replicas sharing the database holds `role`: on PostgreSQL an
        advisory lock; on SQLite, a single process, always this one."""
        if not is_postgresql(self.store.engine):
            return SoleLeader()
        from storage.leadership import AdvisoryLease

        return AdvisoryLease(self.store.engine.url.render_as_string(hide_password=False), role)

    async def start(self) -> int:
        """Deliver what was decided before a restart, handle what was recorded but not
        handled, then start the timers (those that fell due meanwhile fire now, once)."""
        self.hold_database()
        replayed = await self.dispatcher.replay()
        self.dispatcher.release()
        await self.scheduler.start()
        return replayed

    def close(self) -> None:
        self.scheduler.stop()
        self.dispatcher.close()
        self.adapter_state.close()
        self.store.close()
        if self.process_lock is not None:
            self.process_lock.release()
            self.process_lock = None


def build(
    settings: Settings,
    *,
    clock: Clock | None = None,
    roster: Roster | None = None,
    questionnaire: Questionnaire | None = None,
    policy: Policy | None = None,
    store: SqlStore | None = None,
) -> Bot:
    """Open the store (migrating it), load policy and roster, and make the runtime.

    Tests and the scripted runner may pass their own clock, roster, policy or store.

        Platforms are attached afterwards, since each adapter needs the dispatcher to call.
        A long-running bot calls `await bot.start()` once its platforms are connected.
    """
    clock = clock or SystemClock()
    store = store or open_store(settings.database_url, clock, key_file=settings.log_key_file)
    policy = policy or load_policy(settings.policy_file)
    services = Services(
        store=store,
        timers=store,
        clock=clock,
        questionnaire=questionnaire or load_questionnaire(settings.triage_file),
        roster=roster or load_roster(settings.roster_file),
        rules=rules_of(policy),
        organisation=settings.organisation,
        reports_dir=settings.reports_dir,
        audit_room=_platform_room(settings.audit_room),
        display_zone=settings.display_zone,
    )
    runtime = Runtime(services, store, {})
    return Bot(
        services=services,
        dispatcher=runtime,
        store=store,
        settings=settings,
        # PostgreSQL serves replicas: each looks now and then for what the others left.
        scheduler=Scheduler(
            services, runtime, REPLICA_SWEEP if is_postgresql(store.engine) else None
        ),
        adapter_state=WriteBehind(store.kv),
    )


def rules_of(policy: Policy) -> Rules:
    return Rules(
        team=policy,
        roles=policy.role_names,
        paging=policy.paging,
        cadence=policy.cadence,
        regulatory=policy.regulatory,
    )


def _platform_room(value: str | None) -> tuple[str, str] | None:
    if value is None:
        return None
    platform, _, room = value.partition(":")
    return platform, room
