"""Scale headroom: the connection budget against the database's max_connections, the
limit that binds first, and what 10x / 100x the stage's players would need."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from .analyze import Analysis, Database

# RDS's default max_connections formulas (per engine), with DBInstanceClassMemory in bytes.
DEFAULT_MAX_CONNECTIONS = {
    "postgres": "LEAST({DBInstanceClassMemory/9531392},5000)",
    "aurora-postgresql": "LEAST({DBInstanceClassMemory/9531392},5000)",
    "mysql": "{DBInstanceClassMemory/12582880}",
    "mariadb": "{DBInstanceClassMemory/12582880}",
}


@dataclass
class Params:
    """Inputs of the capacity model; each has a CLI option and is printed with the result."""
    rps_per_instance: float = 300.0  # per 2-vCPU app instance, until the service benchmark says
    workers_per_instance: int = 2
    db_pool_size: int = 5
    db_max_overflow: int = 5
    db_reserved_connections: int = 3
    requests_per_player: float = 0.1  # req/s that one active player sends
    db_rps_per_vcpu: float = 1000.0
    growth: tuple[int, ...] = (10, 100)


def evaluate_max_connections(formula: str, memory_bytes: int) -> int | None:
    """Evaluate an RDS parameter value such as 'LEAST({DBInstanceClassMemory/9531392},5000)'."""
    text = formula.replace(" ", "")

    def mem(m: re.Match) -> str:
        return str(memory_bytes // int(m.group(1)))

    text = re.sub(r"\{DBInstanceClassMemory/(\d+)\}", mem, text)
    fn = re.compile(r"(LEAST|GREATEST)\(([\d,]+)\)")
    while True:
        m = fn.search(text)
        if not m:
            break
        values = [int(v) for v in m.group(2).split(",") if v]
        text = text[: m.start()] + str(min(values) if m.group(1) == "LEAST" else max(values)) \
            + text[m.end():]
    return int(text) if text.isdigit() else None


def _instance_vcpu(prices: dict, itype: str | None) -> int | None:
    entry = prices["ec2"].get(itype or "")
    return entry["vcpu"] if entry else None


def _db_entry(prices: dict, klass: str | None) -> dict | None:
    return prices["rds_postgresql"].get(klass or "") if klass else None


def _db_max_connections(db: Database, prices: dict) -> tuple[int | None, str]:
    entry = _db_entry(prices, db.instance_class)
    memory = int(entry["memory_gib"] * 2**30) if entry else None
    if db.max_connections_param:
        formula, source = db.max_connections_param, "the DB parameter group"
    else:
        engine = (db.engine or "postgres").lower()
        formula = DEFAULT_MAX_CONNECTIONS.get(engine, DEFAULT_MAX_CONNECTIONS["postgres"])
        source = f"RDS's default for {engine}: {formula}"
    if formula.strip().isdigit():
        return int(formula), source
    if memory is None:
        return None, source + f" (class {db.instance_class} is not in the price table)"
    value = evaluate_max_connections(formula, memory)
    return value, source + (f", DBInstanceClassMemory taken as the class's "
                            f"{entry['memory_gib']} GiB")


class BadMetadata(ValueError):
    """GameService metadata that is not a usable number."""


def _meta_int(meta: dict, key: str, default: int, where: str, minimum: int = 0) -> int:
    value = meta.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, str)) or \
            not str(value).strip().isdigit() or int(value) < minimum:
        raise BadMetadata(f"GameService metadata {key}={value!r} on {where} is not a whole "
                          f"number{'' if not minimum else f' >= {minimum}'}")
    return int(value)


def _players(rps: float, p: Params) -> int:
    return int(rps / p.requests_per_player)


def capacity(a: Analysis, prices: dict, p: Params) -> dict:
    servers = [u for u in a.app_units if u.kind in ("asg", "instance")]
    if not a.app_units:
        return {"applicable": False, "reason": "no app tier in these templates"}
    # The connection budget and growth figures rest on the game service's per-instance
    # figures: only for templates that say they run it (GameService metadata, as our
    # stages' launch templates do). For anyone else's template they are left out.
    app_units = [u for u in servers if u.game_service]
    if not app_units:
        return {"applicable": False, "reason": (
            "left out: no app instance here carries GameService metadata (workers and DB "
            "pool sizes per instance), so a connection budget would rest on our game "
            "service's defaults, not on this app's figures; add "
            '"Metadata": {"GameService": {"WorkersPerInstance": N, "DbPoolSizePerWorker": N, '
            '"DbMaxOverflowPerWorker": N}} to the launch template to get one')}
    assumptions = []
    units = []
    for u in app_units:
        meta = u.game_service
        where = u.resource.logical_id
        try:
            workers = _meta_int(meta, "WorkersPerInstance", p.workers_per_instance, where, 1)
            pool = _meta_int(meta, "DbPoolSizePerWorker", p.db_pool_size, where)
            overflow = _meta_int(meta, "DbMaxOverflowPerWorker", p.db_max_overflow, where)
            # connections a worker holds beside its pool (ours: the live-updates listener);
            # a template that does not say has none
            listeners = _meta_int(meta, "DbListenersPerWorker", 0, where)
            # a job worker beside the server (its own pool); a template that does not say has none
            job_worker = _meta_int(meta, "JobWorkerDbConnections", 0, where)
        except BadMetadata as exc:
            return {"applicable": False, "reason": f"{exc}: no connection budget or growth "
                                                   f"figures until it is fixed"}
        source = "template metadata (GameService, missing keys from the options)"
        vcpu = _instance_vcpu(prices, u.instance_type)
        rps = p.rps_per_instance * (vcpu / 2 if vcpu else 1)
        per_instance = workers * (pool + overflow + listeners) + job_worker
        units.append({"logical_id": u.resource.logical_id, "kind": u.kind, "min": u.min,
                      "max": u.max, "instance_type": u.instance_type, "vcpu": vcpu,
                      "workers": workers, "pool_per_worker": pool,
                      "overflow_per_worker": overflow,
                      **({"listeners_per_worker": listeners} if listeners else {}),
                      **({"job_worker_connections": job_worker} if job_worker else {}),
                      "connections_per_instance": per_instance,
                      "rps_per_instance": rps, "sizes_from": source,
                      **({"worker": True} if u.worker else {})})
        assumptions.append(
            f"{u.resource.logical_id}: {workers} worker{'s' * (workers != 1)} x (pool {pool} + overflow {overflow}"
            + (f" + listener {listeners}" if listeners == 1 else f" + listeners {listeners}" if listeners else "")
            + ")" + (f" + job worker {job_worker}" if job_worker else "")
            + f" = {per_instance} DB connections per instance, from {source}"
            + ("; a worker tier (works a queue): its instances at max hold connections but "
               "serve no requests, and it does not grow with the players" if u.worker else ""))
        if not vcpu:
            assumptions.append(f"{u.resource.logical_id}: instance type "
                               f"{u.instance_type or 'unknown'} not in the price table; taken "
                               f"as 2 vCPU")
    assumptions.append(
        f"throughput: {p.rps_per_instance:g} req/s per 2-vCPU app instance, scaled by vCPU "
        f"(--rps-per-instance); a conservative default until measured on an instance: the "
        f"service benchmark (game_service/README.md) saw 630-960 req/s for writes and reads "
        f"with the server, PostgreSQL and the load generator sharing 2 cores")
    assumptions.append(f"a player sends {p.requests_per_player:g} req/s "
                       f"(--requests-per-player); every request is one DB transaction")
    # worker tiers hold DB connections but serve no requests (when only workers carry the
    # metadata, they are taken as the fleet, as before there were worker tiers)
    serving = [u for u in units if not u.get("worker")] or units
    worker_connections = sum((u["max"] or 0) * u["connections_per_instance"]
                             for u in units if u not in serving)
    max_instances = sum(u["max"] or 0 for u in serving)
    peak_connections = sum((u["max"] or 0) * u["connections_per_instance"] for u in units)
    fleet_rps = sum((u["max"] or 0) * u["rps_per_instance"] for u in serving)
    conn_per_instance = max(u["connections_per_instance"] for u in serving)
    rps_per_instance = min(u["rps_per_instance"] for u in serving)

    primaries = [d for d in a.databases if not d.replica_of and not d.cluster]
    db = primaries[0] if primaries else (a.databases[0] if a.databases else None)
    limits = [{"name": "app fleet at its max size", "players": _players(fleet_rps, p),
               "detail": f"{max_instances} instance(s) x {rps_per_instance:g} req/s"}]
    result = {"applicable": True, "units": units, "max_instances": max_instances,
              **({"worker_connections": worker_connections} if worker_connections else {}),
              "peak_connections": peak_connections, "fleet_rps": fleet_rps,
              "max_players": _players(fleet_rps, p), "assumptions": assumptions}
    if db is None:
        result.update({"database": None, "budget_ok": True, "limits": limits,
                       "binding": limits[0]["name"]})
        assumptions.append("no database in these templates: no connection budget")
    else:
        max_conn, source = _db_max_connections(db, prices)
        usable = None if max_conn is None else max(0, max_conn - p.db_reserved_connections)
        assumptions.append(f"max_connections of {db.resource.logical_id} "
                           f"({db.instance_class}): {max_conn}, from {source}; "
                           f"{p.db_reserved_connections} reserved for superusers")
        if max_conn is not None and max_conn <= p.db_reserved_connections:
            assumptions.append(f"max_connections {max_conn} leaves no connection for the app "
                               f"after {p.db_reserved_connections} reserved: no instance fits")
        entry = _db_entry(prices, db.instance_class)
        db_vcpu = entry["vcpu"] if entry else None
        budget_ok = usable is None or a.has_proxy or peak_connections <= usable
        allowed = (max(0, usable - worker_connections) // conn_per_instance) \
            if usable is not None and conn_per_instance else None
        if allowed is not None and not a.has_proxy:
            limits.append({"name": "DB connections", "players": _players(
                allowed * rps_per_instance, p),
                "detail": f"{usable} usable connections"
                          + (f" - {worker_connections} of the worker tiers at max"
                             if worker_connections else "")
                          + f" / {conn_per_instance} per instance = {allowed} instance(s)"})
        if db_vcpu:
            db_rps = db_vcpu * p.db_rps_per_vcpu
            limits.append({"name": "DB throughput (estimate)", "players": _players(db_rps, p),
                           "detail": f"{db_vcpu} vCPU x {p.db_rps_per_vcpu:g} transactions/s "
                                     f"per vCPU (--db-rps-per-vcpu)"})
        result.update({"database": {"logical_id": db.resource.logical_id,
                                    "class": db.instance_class, "multi_az": db.multi_az,
                                    "max_connections": max_conn, "usable_connections": usable,
                                    "proxy": a.has_proxy},
                       "budget_ok": budget_ok, "instances_the_budget_allows": allowed})
    limits.sort(key=lambda lim: lim["players"])
    result["limits"] = limits
    result["binding"] = limits[0]["name"]
    result["growth"] = [_growth(a, prices, p, result, f) for f in p.growth]
    return result


def _growth(a: Analysis, prices: dict, p: Params, cap: dict, factor: int) -> dict:
    players = cap["max_players"] * factor
    rps = players * p.requests_per_player
    serving = [u for u in cap["units"] if not u.get("worker")] or cap["units"]
    per_rps = min(u["rps_per_instance"] for u in serving)
    per_conn = max(u["connections_per_instance"] for u in serving)
    instances = math.ceil(rps / per_rps)
    connections = (instances * per_conn + cap.get("worker_connections", 0)
                   + p.db_reserved_connections)
    needs, hits = [], []
    asgs = [u for u in a.app_units if u.kind == "asg" and not u.worker]
    if instances > cap["max_instances"]:
        hits.append("app fleet at its max size")
        if asgs:
            azs = max(len(u.azs) for u in asgs)
            spread = ("" if azs >= 3 or any(u.spread and u.spread.every_az for u in asgs) else
                      " and spread it over a third AZ" if azs == 2 else
                      " and spread it over >= 2 more AZs (it is in one)" if azs == 1 else
                      " across >= 3 AZs")
            needs.append(f"raise the Auto Scaling group's max from {cap['max_instances']} to "
                         f"{instances}{spread}")
        else:
            needs.append(f"an Auto Scaling group of up to {instances} instances behind a load "
                         f"balancer (today one instance, which can only grow up)")
    db = cap.get("database")
    if db and db["usable_connections"] is not None and not db["proxy"] and \
            connections > db["max_connections"]:
        hits.append("DB connections")
        klass = _smallest_class(prices, lambda e: (evaluate_max_connections(
            DEFAULT_MAX_CONNECTIONS["postgres"], int(e["memory_gib"] * 2**30)) or 0)
            >= connections)
        needs.append(
            f"{connections} DB connections > max_connections {db['max_connections']}: "
            + (f"a larger DB class ({klass}) or RDS Proxy to pool them" if klass else
               "RDS Proxy (no class allows more than 5000 by default) or smaller pools "
               "per worker"))
    if db:
        entry = _db_entry(prices, db["class"])
        if entry and rps > entry["vcpu"] * p.db_rps_per_vcpu:
            hits.append("DB throughput (estimate)")
            klass = _smallest_class(prices, lambda e: e["vcpu"] * p.db_rps_per_vcpu >= rps)
            needs.append(
                f"{rps:g} DB transactions/s > ~{entry['vcpu'] * p.db_rps_per_vcpu:g} for "
                f"{db['class']}: "
                + (f"a larger DB class ({klass}), read replicas for the reads" if klass else
                   "more than the largest class in the table: read replicas for the reads "
                   "and partitioning (sharding) the writes"))
    if a.tiers["network egress"].spofs and instances > 1:
        needs.append("a NAT gateway in every AZ (egress without a single point of failure)")
    if db and not db["multi_az"] and instances > 1:
        needs.append("a Multi-AZ database (the fleet should not depend on one AZ's DB)")
    order = [lim["name"] for lim in cap["limits"] if lim["name"] in hits]
    return {"factor": factor, "players": players, "rps": rps, "instances": instances,
            "connections": connections, "binds_first": order[0] if order else None,
            "limits_hit": order, "needs": needs}


def _smallest_class(prices: dict, ok) -> str | None:
    candidates = [(e["hourly"], name) for name, e in prices["rds_postgresql"].items()
                  if not name.startswith("_") and ok(e)]
    return min(candidates)[1] if candidates else None
