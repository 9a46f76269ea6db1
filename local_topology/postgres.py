"""A PostgreSQL cluster of our own: initdb'd into a folder, on a free port, started and
stopped with ``pg_ctl``, so a restart or an outage touches no system service.

The local topology runs its database on one (TLS, password auth over the network, trust on
its Unix socket; its state file records the folder, so a new process attaches to it). The
tests that need a server of their own use the same class (``tests/game_service/conftest.py``:
``make_pg_cluster``): the shared test server trusts every local connection, so it accepts
any password, while tests about passwords (rotation), restarts (failover) and who may
connect need one they own. A cluster:

* is initdb'd with a superuser password and an auth method (``scram-sha-256`` or ``trust``;
  ``pg_hba`` lines from ``hba_lines`` come first, e.g. ``trust`` for one role only);
* listens on the given addresses only (127.0.0.1 by default); its Unix socket lives in its
  own folder, beside the server log;
* can serve TLS (``ssl=True``, a self-signed certificate);
* skips fsync unless ``durable`` (a test server; no OS crash here);
* is stopped and deleted at the end (``close``; the ``make_pg_cluster`` fixture does it).

Debian's server binaries live in ``/usr/lib/postgresql/<version>/bin`` (``PG_BIN`` overrides).
As root, the server runs as the ``postgres`` user (PostgreSQL refuses to run as root).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from local_topology.processes import TopologyError, free_port

if TYPE_CHECKING:
    import psycopg

SUPERUSER = "postgres"
PG_CTL_WAIT_S = 60


def pg_bin() -> Path:
    """The folder of the server binaries (initdb, pg_ctl, psql)."""
    if os.environ.get("PG_BIN"):
        return Path(os.environ["PG_BIN"])
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if not found:
        raise TopologyError("PostgreSQL server binaries not found: install postgresql-15 (scripts/system-packages.txt)"
                            " or set PG_BIN")
    return found[-1].parent


def _as_postgres() -> list[str]:
    """The prefix that runs a command as the ``postgres`` user (as root; else nothing)."""
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


class PgCluster:
    """A cluster under ``root`` (``root/data``; socket and ``server.log`` in ``root``) on ``port``.

    ``PgCluster.create(...)`` initdb's and starts a new one; ``PgCluster(root, port, ...)``
    attaches to one that exists (the local topology's, from its state file)."""

    def __init__(self, root: Path | str, port: int, password: str, bin: Path | str | None = None):
        self.root = Path(root)
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.port = int(port)
        self.password = password
        self.bin = Path(bin) if bin else pg_bin()

    @classmethod
    def create(cls, root: Path | str | None = None, *, superuser_password: str = "admin-pw-for-tests",
               auth: str = "scram-sha-256", auth_local: str | None = None, hba_lines: list[str] | None = None,
               listen: tuple[str, ...] = ("127.0.0.1",), ssl: bool = False, ssl_subject: str = "127.0.0.1",
               ssl_days: int = 1, max_connections: int = 60, shared_buffers: str = "32MB",
               durable: bool = False, start: bool = True) -> PgCluster:
        """initdb a cluster into ``root`` (a new folder; default: a temporary one) and start it
        (unless not ``start``).

        ``auth``: the method of network connections (and of the socket unless ``auth_local``)."""
        if root is None:
            root = Path(tempfile.mkdtemp(prefix="gs-pgcluster-"))
        else:
            root = Path(root)
            root.mkdir(mode=0o700)
        if os.geteuid() == 0:  # initdb and postgres refuse to run as root
            shutil.chown(root, "postgres", "postgres")
        root.chmod(0o700)
        cluster = cls(root, free_port(), superuser_password)
        data = cluster.data
        pwfile = root / "pw"
        pwfile.write_text(superuser_password)
        if os.geteuid() == 0:
            shutil.chown(pwfile, "postgres", "postgres")
        cluster._run([cluster.bin / "initdb", "-D", data, "-U", SUPERUSER, f"--auth-host={auth}",
                      f"--auth-local={auth_local or auth}", f"--pwfile={pwfile}", *([] if durable else ["--no-sync"]),
                      "-E", "UTF8", "--locale=C.UTF-8"], timeout=120)
        pwfile.unlink()
        if hba_lines:
            hba = data / "pg_hba.conf"
            hba.write_text("\n".join(hba_lines) + "\n" + hba.read_text())
        with open(data / "postgresql.conf", "a") as f:
            f.write(f"\nport = {cluster.port}\nlisten_addresses = '{','.join(listen)}'\n"
                    f"unix_socket_directories = '{root}'\n"
                    f"shared_buffers = {shared_buffers}\nmax_connections = {max_connections}\n")
            if not durable:
                f.write("fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n")
            if ssl:  # a self-signed certificate: enough for sslmode=require (which does not verify it)
                f.write("ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n")
        if ssl:
            cluster._run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", str(ssl_days),
                          "-subj", f"/CN={ssl_subject}", "-keyout", data / "server.key", "-out", data / "server.crt"])
            cluster._run(["chmod", "600", data / "server.key"])
        if start:
            cluster.start()
        return cluster

    def _run(self, args: list, timeout: float = PG_CTL_WAIT_S + 30) -> subprocess.CompletedProcess:
        r = subprocess.run([*_as_postgres(), *map(str, args)], capture_output=True, text=True, timeout=timeout)
        if r.returncode != 0:
            log = self.log.read_text()[-2000:].strip() if self.log.exists() else ""
            raise TopologyError(f"{Path(str(args[0])).name} failed ({r.returncode}): {(r.stderr or r.stdout).strip()[-500:]}"
                                + (f" (server log {self.log}:\n{log})" if log else ""))
        return r

    # ------------------------------------------------------------ the server
    def start(self) -> None:
        self._run([self.bin / "pg_ctl", "-D", self.data, "-l", self.log, "-w", "-t", PG_CTL_WAIT_S, "start"])

    def stop(self, mode: str = "fast") -> None:
        self._run([self.bin / "pg_ctl", "-D", self.data, "-m", mode, "-w", "-t", PG_CTL_WAIT_S, "stop"])

    def restart(self) -> None:
        self._run([self.bin / "pg_ctl", "-D", self.data, "-l", self.log, "-m", "fast", "-w", "-t", PG_CTL_WAIT_S,
                   "restart"])

    @property
    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def close(self) -> None:
        """Stop it (immediately) and delete its folder."""
        try:
            if self.running:
                self.stop("immediate")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    # ------------------------------------------------------------ connections
    def url(self, dbname: str = "postgres", user: str = SUPERUSER, password: str | None = None) -> str:
        """Over TCP on 127.0.0.1 (the superuser with its password unless another is given)."""
        pw = self.password if password is None and user == SUPERUSER else password
        auth = quote(user, safe="") + (":" + quote(pw, safe="") if pw else "")
        return f"postgresql://{auth}@127.0.0.1:{self.port}/{dbname}"

    def socket_dsn(self, dbname: str = "postgres") -> str:
        """A libpq connection string over the Unix socket, as the superuser."""
        return f"host={self.root} port={self.port} user={SUPERUSER} dbname={dbname}"

    def admin(self, dbname: str = "postgres") -> psycopg.Connection:
        """A superuser connection (autocommit); close it (``with``)."""
        import psycopg

        return psycopg.connect(self.url(dbname), autocommit=True, connect_timeout=5)

    def psql(self, sql: str, dbname: str = "postgres") -> str:
        """Run SQL with ``psql`` over the Unix socket, as the superuser; its output."""
        return self._run([self.bin / "psql", "-h", self.root, "-p", self.port, "-U", SUPERUSER, "-d", dbname,
                          "-XAtq", "-v", "ON_ERROR_STOP=1", "-c", sql], timeout=60).stdout

    def create_database(self, name: str) -> str:
        with self.admin() as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def create_role(self, name: str, password: str | None = None) -> None:
        from psycopg import sql

        with self.admin() as conn:
            if password is None:
                conn.execute(f'CREATE ROLE "{name}" LOGIN')
            else:
                conn.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                    sql.Identifier(name), sql.Literal(password)))

    def set_password(self, role: str, password: str) -> None:
        from psycopg import sql

        with self.admin() as conn:
            conn.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(
                sql.Identifier(role), sql.Literal(password)))

    def terminate(self, role: str, dbname: str, idle_only: bool = False) -> int:
        """pg_terminate_backend of a role's connections (as a failover does); returns how many.

        ``idle_only``: only connections resting in the pool, not one a request is using.
        Returns once the backends have exited (``pg_terminate_backend``'s timeout), so the
        kill has a known end: from then on their clients can see the hang-up."""
        with self.admin() as conn:
            return conn.execute(
                "SELECT count(pg_terminate_backend(pid, 5000)) FROM pg_stat_activity"
                " WHERE usename = %s AND datname = %s"
                + (" AND state = 'idle'" if idle_only else ""),
                (role, dbname),
            ).fetchone()[0]
