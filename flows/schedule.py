"""The schedule: every flow that runs by itself, and when, in one table.

Both runners read it: the embedded scheduler in `rectify run` (flows.runner) and, on the
scaled path, the Prefect deployments; neither keeps a copy. Crons are five fields in the
given zone and name no weekday by number (APScheduler 3 counts Monday as 0, cron as 1):
the flows themselves decide what a day off means, by the Chinese working calendar.
"""

from dataclasses import dataclass
from datetime import datetime

from apscheduler.triggers.cron import CronTrigger

from models.reminders import DEFAULT_POLICY

SHANGHAI = "Asia/Shanghai"
WORK_POOL = "rectify"  # the Prefect process work pool of the scaled path (`rectify deploy`)


@dataclass(frozen=True)
class Scheduled:
    name: str  # a flow of flows.jobs.FLOWS, and the job's id
    cron: str  # minute hour day month day-of-week
    description: str
    timezone: str = SHANGHAI

    @property
    def trigger(self) -> CronTrigger:
        return CronTrigger.from_crontab(self.cron, timezone=self.timezone)

    def next_run(self, after: datetime) -> datetime | None:
        return self.trigger.get_next_fire_time(None, after)


SCHEDULE: tuple[Scheduled, ...] = (
    Scheduled(
        "deadline_reminders",
        DEFAULT_POLICY.cron,
        "每天 08:30 计划当天的整改时限提醒（非工作日不发）",
    ),
    Scheduled("deliver_outbox", "* * * * *", "每分钟把新的流程事件变成通知，并发送到期的邮件"),
    Scheduled(
        "quarterly_dispatch",
        "0 9 * 1,4,7,10 *",
        "1、4、7、10 月每天 09:00 检查：当月首个工作日开启季度调度",
    ),
    Scheduled(
        "dispatch_chasers", "0 9 * * *", "每天 09:00 调度催报；第 6 个工作日督办、结束并报告"
    ),
    Scheduled("lookback_sweep", "0 9 * * *", "每天 09:00 为销号满 3 个月的任务启动回头看"),
)


def scheduled(name: str) -> Scheduled:
    return next(entry for entry in SCHEDULE if entry.name == name)
