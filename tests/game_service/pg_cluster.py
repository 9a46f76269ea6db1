"""A PostgreSQL cluster of our own: initdb into a temporary directory, password auth, a free port.

The shared test server at 127.0.0.1:5432 trusts every local connection, so it accepts any
password; tests about passwords (rotation), about restarts (failover) and about who may
connect need a server they own. This one:

* runs ``initdb --auth=scram-sha-256`` (or ``auth=``: ``trust``) with a superuser password (``pg_hba`` from
  ``hba_lines`` when given: e.g. ``trust`` for one role only);
* listens on 127.0.0.1 only, on a free port; its Unix socket lives in its own directory;
* can serve TLS (``ssl=True``, a self-signed certificate);
* can be stopped, started and restarted (``pg_ctl``) to simulate a failover;
* is stopped and deleted at the end (``close``; the ``pg_cluster`` fixture does it).

Debian's server binaries live in ``/usr/lib/postgresql/<version>/bin`` (``PG_BIN`` overrides).
As root, the server runs as the ``postgres`` user (PostgreSQL refuses to run as root).
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from urllib.parse import quote

import psycopg
from psycopg import sql

SUPERUSER = "postgres"


def _pg_bin() -> Path:
    if os.environ.get("PG_BIN"):
        return Path(os.environ["PG_BIN"])
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        raise RuntimeError("PostgreSQL server binaries not found (install postgresql, or set PG_BIN)")
    return Path(found[-1]).parent


class PgCluster:
    def __init__(self, superuser_password: str = "admin-pw-for-tests", hba_lines: list[str] | None = None,
                 ssl: bool = False, auth: str = "scram-sha-256", max_connections: int = 60):
        from local_topology.topology import free_port

        self.bin = _pg_bin()
        self.password = superuser_password
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="gs-pgcluster-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self._as = []
        if os.geteuid() == 0:  # initdb and postgres refuse to run as root
            self._as = ["runuser", "-u", "postgres", "--"]
            shutil.chown(self.root, "postgres", "postgres")
        self.root.chmod(0o700)
        pwfile = self.root / "pw"
        pwfile.write_text(superuser_password)
        if self._as:
            shutil.chown(pwfile, "postgres", "postgres")
        self._run([self.bin / "initdb", "-D", self.data, "-U", SUPERUSER, f"--auth={auth}",
                   f"--pwfile={pwfile}", "--no-sync", "-E", "UTF8", "--locale=C.UTF-8"])
        pwfile.unlink()
        if hba_lines:
            hba = self.data / "pg_hba.conf"
            hba.write_text("\n".join(hba_lines) + "\n" + hba.read_text())
        with open(self.data / "postgresql.conf", "a") as f:
            f.write(
                f"\nport = {self.port}\nlisten_addresses = '127.0.0.1'\n"
                f"unix_socket_directories = '{self.root}'\n"
                "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"  # a test server; no OS crash here
                f"shared_buffers = 32MB\nmax_connections = {max_connections}\n"
            )
            if ssl:  # a self-signed certificate: enough for sslmode=require (which does not verify it)
                f.write("ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n")
        if ssl:
            self._run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                       "-keyout", self.data / "server.key", "-out", self.data / "server.crt"])
            self._run(["chmod", "600", self.data / "server.key"])
        self.start()

    def _run(self, args, timeout: float = 60) -> None:
        r = subprocess.run([*self._as, *map(str, args)], capture_output=True, text=True, timeout=timeout)
        if r.returncode != 0:
            log = self.log.read_text()[-2000:] if self.log.exists() else ""
            raise RuntimeError(f"{args[0]} failed ({r.returncode}): {r.stdout}{r.stderr}\n{log}")

    def start(self) -> None:
        self._run([self.bin / "pg_ctl", "-D", self.data, "-l", self.log, "-w", "-t", "30", "start"])

    def stop(self, mode: str = "fast") -> None:
        self._run([self.bin / "pg_ctl", "-D", self.data, "-m", mode, "-w", "-t", "30", "stop"])

    def restart(self) -> None:
        self._run([self.bin / "pg_ctl", "-D", self.data, "-l", self.log, "-m", "fast", "-w", "-t", "30", "restart"])

    def close(self) -> None:
        try:
            if (self.data / "postmaster.pid").exists():
                self.stop("immediate")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    # ------------------------------------------------------------ connections
    def url(self, dbname: str = "postgres", user: str = SUPERUSER, password: str | None = None) -> str:
        pw = self.password if password is None and user == SUPERUSER else password
        auth = quote(user, safe="") + (":" + quote(pw, safe="") if pw else "")
        return f"postgresql://{auth}@127.0.0.1:{self.port}/{dbname}"

    def admin(self, dbname: str = "postgres") -> psycopg.Connection:
        """A superuser connection (autocommit); close it (``with``)."""
        return psycopg.connect(self.url(dbname), autocommit=True, connect_timeout=5)

    def create_database(self, name: str) -> str:
        with self.admin() as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def create_role(self, name: str, password: str | None = None) -> None:
        with self.admin() as conn:
            if password is None:
                conn.execute(f'CREATE ROLE "{name}" LOGIN')
            else:
                conn.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                    sql.Identifier(name), sql.Literal(password)))

    def set_password(self, role: str, password: str) -> None:
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
