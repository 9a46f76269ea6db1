"""GAME_DB_AUTH=iam as far as this machine allows.

What runs for real: a PostgreSQL cluster of our own with TLS (self-signed certificate), whose
pg_hba lets the app role in over TLS only (``hostssl ... trust``; plain TCP is rejected), so
a connection succeeds only if the service asked for TLS; botocore signs the tokens (dummy
credentials; signing is local, no AWS call) and the admin secret is in moto's Secrets Manager.

What cannot run here: checking the token itself. Only RDS verifies an IAM token (it checks
the SigV4 signature with IAM), so the test asserts that each new connection got a freshly
generated, well-formed RDS token as its password and used TLS, and the server accepts the
role by pg_hba (trust) instead of by the token.
"""

from __future__ import annotations

import calendar
import json
import time
import uuid
from urllib.parse import parse_qs, urlparse

import pytest

from game_service.core.config import ConfigError, Settings
from game_service.core.db_auth import IamCredentials
from game_service.main import create_app
from game_service.migrate import migrate

APP_ROLE = "game_app"


def check_token(token: str, port: int) -> None:
    u = urlparse("https://" + token)
    assert (u.hostname, u.port) == ("127.0.0.1", port)
    q = {k: v[0] for k, v in parse_qs(u.query).items()}
    assert q["Action"] == "connect" and q["DBUser"] == APP_ROLE
    assert q["X-Amz-Algorithm"] == "AWS4-HMAC-SHA256" and q["X-Amz-Signature"] and q["X-Amz-Expires"] == "900"
    assert "/us-east-1/rds-db/aws4_request" in q["X-Amz-Credential"]
    signed_at = calendar.timegm(time.strptime(q["X-Amz-Date"], "%Y%m%dT%H%M%SZ"))
    assert abs(time.time() - signed_at) < 60, "not a fresh token"


@pytest.mark.slow
def test_iam_mode_connects_with_a_fresh_token_per_connection_over_tls(aws, make_pg_cluster, tmp_path):
    from fastapi.testclient import TestClient

    cluster = make_pg_cluster(ssl=True, hba_lines=[
        f"hostssl game {APP_ROLE} 127.0.0.1/32 trust",  # stands in for RDS checking the token
        f"host all {APP_ROLE} 127.0.0.1/32 reject",  # the app role never gets in without TLS
    ])
    cluster.create_database("game")
    with cluster.admin() as conn:
        conn.execute("CREATE ROLE rds_iam")  # as on RDS
    sm = aws.client("secretsmanager")
    admin = sm.create_secret(Name=f"admin-{uuid.uuid4().hex[:8]}",
                             SecretString=json.dumps({"username": "postgres", "password": cluster.password}))["ARN"]
    kw = dict(db_auth="iam", db_host="127.0.0.1", db_port=cluster.port, db_name="game", db_user=APP_ROLE,
              session_secret="s", media_dir=str(tmp_path / "media"))

    # the deploy step as the master user creates the app role: LOGIN, no password, rds_iam
    migrate(Settings(db_admin_secret_id=admin, **kw), timeout=60)
    with cluster.admin("game") as conn:
        assert conn.execute("SELECT rolcanlogin, rolpassword IS NULL, rolsuper FROM pg_authid WHERE rolname = %s",
                            (APP_ROLE,)).fetchone() == (True, True, False)
        assert conn.execute("SELECT count(*) FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid"
                            " JOIN pg_roles u ON u.oid = m.member WHERE r.rolname = 'rds_iam' AND u.rolname = %s",
                            (APP_ROLE,)).fetchone() == (1,)

    settings = Settings(**kw).resolve_secrets()
    creds = IamCredentials(settings)
    params = creds.params()
    assert params["sslmode"] == "require" and params["user"] == APP_ROLE
    check_token(params["password"], cluster.port)
    assert settings.database_url is None and settings.db_secret_id is None  # no password anywhere

    with TestClient(create_app(settings), raise_server_exceptions=False) as c:
        engine_creds = c.app.state.services.engine.sync_engine._game_credentials
        r = c.post("/api/auth/guest")
        assert r.status_code == 201, r.text
        h = {"Authorization": f"Bearer {r.json()['token']}"}
        for round_ in range(3):
            before = engine_creds.tokens
            killed = cluster.terminate(APP_ROLE, "game", idle_only=True)  # every pooled connection
            assert killed >= 1
            r = c.post("/api/actions", headers=h)
            assert r.status_code == 200, r.text
            assert engine_creds.tokens > before, "a new connection without a new token"
            check_token(engine_creds.last_token, cluster.port)
            with cluster.admin("game") as conn:
                rows = conn.execute("SELECT s.ssl FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid)"
                                    " WHERE a.usename = %s", (APP_ROLE,)).fetchall()
            assert rows and all(ssl for (ssl,) in rows), rows


def test_iam_mode_config_errors_name_the_variable(monkeypatch):
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    with pytest.raises(ConfigError, match="GAME_DB_HOST"):
        Settings(db_auth="iam", db_name="game", session_secret="s").resolve_secrets()
    with pytest.raises(ConfigError, match="AWS_REGION"):
        Settings(db_auth="iam", db_host="h", db_name="game", session_secret="s").resolve_secrets()
    with pytest.raises(ConfigError, match="GAME_DATABASE_URL"):
        Settings(db_auth="iam", database_url="postgresql://u:p@h/d", session_secret="s").resolve_secrets()
