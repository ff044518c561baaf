"""What the benchmarks share: their databases, their memory reading and filler text."""

import random
import resource
import shutil
import socket
from pathlib import Path

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰建国志红"
FILLER = (
    "在落实全面从严治党主体责任、推动重点工作落地见效、加强制度建设和监督管理等方面"
    "存在差距，部分工作标准不高、措施不够有力、跟踪问效不到位，需要进一步压实责任。"
)


def filler_text(rng: random.Random, length: int) -> str:
    start = rng.randrange(len(FILLER) - length)
    return FILLER[start : start + length]


def peak_mb(pid: int | str = "self") -> float:
    """A process's peak resident memory (this one by default). VmHWM, not ru_maxrss: on Linux
    ru_maxrss keeps the high-water mark of the parent's memory across fork and exec."""
    status = Path(f"/proc/{pid}/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def free_port() -> int:
    """A port free on loopback now (aiosmtpd and `rectify run --port` need a number)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Databases:
    """The benchmark's databases: SQLite files in the work folder, or throw-away databases on
    a PostgreSQL server (copied with CREATE DATABASE … TEMPLATE)."""

    def __init__(self, work: Path, postgres: str | None) -> None:
        self.work, self.postgres = work, postgres
        self.created: list[str] = []

    def url(self, name: str) -> str:
        if self.postgres is None:
            return f"sqlite:///{self.work / name}.db"
        base = self.postgres.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
        return f"{base}/rectify_bench_{name}"

    def _admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(self.postgres, autocommit=True) as admin:
            admin.execute(sql)

    def create(self, name: str) -> str:
        if self.postgres is not None:
            self._admin(f"DROP DATABASE IF EXISTS rectify_bench_{name} WITH (FORCE)")
            self._admin(f"CREATE DATABASE rectify_bench_{name}")
            self.created.append(name)
        return self.url(name)

    def copy(self, source: str, target: str) -> str:
        if self.postgres is None:
            shutil.copy(self.work / f"{source}.db", self.work / f"{target}.db")
        else:
            self._admin(f"DROP DATABASE IF EXISTS rectify_bench_{target} WITH (FORCE)")
            self._admin(f"CREATE DATABASE rectify_bench_{target} TEMPLATE rectify_bench_{source}")
            self.created.append(target)
        return self.url(target)

    def settle(self, name: str) -> None:
        """VACUUM ANALYZE a freshly built PostgreSQL database (its copies inherit the result),
        so autovacuum does not wake up during a later measurement and take a core."""
        if self.postgres is None:
            return
        import psycopg

        base = self.postgres.rsplit("/", 1)[0]
        with psycopg.connect(f"{base}/rectify_bench_{name}", autocommit=True) as database:
            database.execute("VACUUM ANALYZE")

    def discard(self, name: str) -> None:
        """Drop a database that has been measured (on PostgreSQL, before autovacuum visits)."""
        if self.postgres is None:
            for suffix in ("", "-wal", "-shm"):
                (self.work / f"{name}.db{suffix}").unlink(missing_ok=True)
            return
        self._admin(f"DROP DATABASE IF EXISTS rectify_bench_{name} WITH (FORCE)")
        self.created.remove(name)

    def drop(self) -> None:
        for name in self.created:
            self._admin(f"DROP DATABASE IF EXISTS rectify_bench_{name} WITH (FORCE)")
