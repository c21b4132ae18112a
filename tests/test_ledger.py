"""Ledger: chain, tree, checkpoints, proofs, redaction, retention, and tamper detection on
SQLite and on a real PostgreSQL server."""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
import rfc8785
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger_helpers import count_batches, fresh_pg, fresh_sqlite
from redline.cli import cli
from redline.ledger import Checkpoint, Ledger, LedgerError, LedgerWriter, Record, SigningKey, merkle
from redline.ledger.canonical import dumps as canonical
from redline.policy.schema import Retention
from redline.store import StoreError, parse_db_url

KEY = SigningKey.generate()


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return fresh_sqlite(tmp_path)
    return fresh_pg(request.getfixturevalue("pg_server"))


@pytest.fixture
def ledger(db: str) -> Iterator[Ledger]:
    with Ledger.open(db, KEY, checkpoint_every=8) as led:
        for i in range(30):
            led.append(Record("decision", {"i": i, "decision": "allow", "score": 0.25}, tenant="t1"))
        yield led


# -- building blocks ------------------------------------------------------------------------------


def _mth(d: list[bytes]) -> bytes:
    if not d:
        return merkle.EMPTY_ROOT
    if len(d) == 1:
        return d[0]
    k = 1
    while k * 2 < len(d):
        k *= 2
    return merkle.node_hash(_mth(d[:k]), _mth(d[k:]))


def test_merkle_roots_and_proofs_match_rfc6962_definition() -> None:
    leaves = [merkle.leaf_hash(bytes([i])) for i in range(40)]
    for n in range(1, 40):
        root = _mth(leaves[:n])
        assert merkle.root(leaves, 0, n) == root
        for m in range(n):
            assert merkle.verify_inclusion(leaves[m], m, n, merkle.inclusion_proof(leaves, m, n), root)
            assert not merkle.verify_inclusion(leaves[(m + 1) % n] if n > 1 else b"x", m, n, merkle.inclusion_proof(leaves, m, n), root)
        for old in range(1, n + 1):
            proof = merkle.consistency_proof(leaves, old, n)
            assert merkle.verify_consistency(old, n, _mth(leaves[:old]), root, proof)
            if old < n:
                assert not merkle.verify_consistency(old, n, _mth(leaves[: old - 1]) if old > 1 else b"y", root, proof)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_fast_canonical_json_equals_rfc8785_reference(value: object) -> None:
    try:
        want = rfc8785.dumps(value)
    except (ValueError, UnicodeEncodeError):
        return  # lone surrogates: both refuse (ours via orjson)
    assert canonical(value) == want


@settings(max_examples=2000, deadline=None)
@given(st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=3))
def test_fast_canonical_numbers_equal_the_reference(x: float, key: str) -> None:
    # numbers are where orjson and RFC 8785 differ: every float goes through the ECMAScript form
    assert canonical(x) == rfc8785.dumps(x)
    try:
        want = rfc8785.dumps({key: [x, -x], "k": x})
    except UnicodeEncodeError:
        return
    assert canonical({key: [x, -x], "k": x}) == want


def test_db_url_parser() -> None:
    assert parse_db_url("sqlite:///x.db").target == "x.db"
    assert parse_db_url("sqlite:////abs/x.db?synchronous=full").option("synchronous") == "full"
    pg = parse_db_url("postgres://u:secret@db.example:5432/red")
    assert pg.scheme == "postgresql" and "secret" not in str(pg) and "secret" in pg.target
    for bad in ("x.db", "mysql://h/db", "sqlite://x.db", "postgresql:///nohost"):
        with pytest.raises(StoreError):
            parse_db_url(bad)


# -- appending, proving, redaction -----------------------------------------------------------------


def test_append_verify_prove_consistency(ledger: Ledger) -> None:
    report = ledger.verify()
    assert report.ok, report.problem
    assert report.size == 30 and report.checkpoints >= 3
    proof = ledger.prove(5)
    assert proof.verify() and proof.checkpoint is not None and proof.checkpoint.root == proof.root
    cps = ledger.checkpoints()
    old_root, new_root, path = ledger.consistency(cps[0].tree_size, cps[-1].tree_size)
    assert (old_root, new_root) == (cps[0].root, cps[-1].root)
    assert merkle.verify_consistency(cps[0].tree_size, cps[-1].tree_size, old_root, new_root, path)
    body = json.loads(proof.body)
    assert body["seq"] == 5 and body["kind"] == "decision" and body["payload"]["i"] == 5


def test_decision_records_are_redacted_by_default(engine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    text = "Build a dossier on john.doe@example.com, phone +1 202 555 0143, track every resident of the city by phone location"
    decision = engine.decide_text(text)
    with Ledger.open(fresh_sqlite(tmp_path), KEY) as led:
        record = led.redactor.decision(decision, request={"text": text}, tenant="t1", request_id="req-9")
        receipt = led.append(record)
        body = led.prove(receipt.seq, receipt.seq + 1).body.decode()
        # (hex hashes in the body may contain any short digit run, so look for the whole number)
        for raw in ("john.doe@example.com", "202 555 0143", "2025550143", "555 0143", "req-9", "Build a dossier on"):
            assert raw not in body, raw
        assert "dossier" in body  # evidence spans stay, as short redacted excerpts
        assert json.loads(body)["payload"]["request_hash"] == led.redactor.request_hash({"text": text})
        assert led.text(receipt.seq) is None


def test_full_text_only_when_retention_asks_and_purged_after_its_period(tmp_path: Path) -> None:
    clock = [1_000_000.0]
    with Ledger.open(fresh_sqlite(tmp_path), KEY, retention=Retention(full_text=True, full_text_days=2), clock=lambda: clock[0]) as led:
        from redline.decide import Decision

        d = Decision("allow", None, {"mass_domestic_surveillance": 0.0, "autonomous_weapons": 0.0}, "default", "v1")
        r = led.append(led.redactor.decision(d, request={"text": "full prompt"}, now=clock[0]))
        assert led.text(r.seq) == '{"text":"full prompt"}'
        assert led.purge_expired(clock[0] + 86_400) == 0
        assert led.purge_expired(clock[0] + 2 * 86_400 + 1) == 1
        assert led.text(r.seq) is None
        assert led.verify().ok  # the chain holds only the commitment, so purging breaks nothing


# -- tampering ---------------------------------------------------------------------------------------


def _problem(led: Ledger) -> tuple[str, int | None]:
    report = led.verify()
    assert report.problem is not None, "tampering went undetected"
    return report.problem.kind, report.problem.seq


def test_edit_is_detected_and_named(ledger: Ledger) -> None:
    body = ledger.backend.execute("SELECT body FROM ledger_records WHERE seq = 12")[0][0]
    edited = bytes(body).replace(b'"allow"', b'"block"')  # type: ignore[arg-type]
    ledger.backend.execute("UPDATE ledger_records SET body = ? WHERE seq = 12", (edited,))
    assert _problem(ledger) == ("edited", 12)


def test_rewrite_with_recomputed_chain_is_caught_by_the_signed_checkpoint(ledger: Ledger) -> None:
    from redline.ledger.record import GENESIS_CHAIN, chain_hash

    rows = ledger.backend.execute("SELECT seq, body FROM ledger_records ORDER BY seq")
    prev = GENESIS_CHAIN
    for seq, body in rows:
        b = bytes(body)  # type: ignore[arg-type]
        if seq == 12:
            b = b.replace(b'"allow"', b'"block"')
            ledger.backend.execute("UPDATE ledger_records SET body = ? WHERE seq = ?", (b, seq))
        prev = chain_hash(prev, merkle.leaf_hash(b))
        ledger.backend.execute("UPDATE ledger_records SET chain = ? WHERE seq = ?", (prev, seq))
    ledger.backend.execute("UPDATE ledger_head SET chain = ?", (prev,))
    kind, seq = _problem(ledger)
    assert kind == "edited" and seq is not None and seq <= 12


def test_delete_is_detected_and_named(ledger: Ledger) -> None:
    ledger.backend.execute("DELETE FROM ledger_records WHERE seq = 7")
    assert _problem(ledger) == ("missing", 7)


def test_delete_and_renumber_is_detected(ledger: Ledger) -> None:
    ledger.backend.execute("DELETE FROM ledger_records WHERE seq = 7")
    ledger.backend.execute("UPDATE ledger_records SET seq = seq - 1 WHERE seq > 7")
    assert _problem(ledger) == ("missing", 7)


def test_reorder_is_detected_and_named(ledger: Ledger) -> None:
    ledger.backend.execute("UPDATE ledger_records SET seq = -1 WHERE seq = 9")
    ledger.backend.execute("UPDATE ledger_records SET seq = 9 WHERE seq = 10")
    ledger.backend.execute("UPDATE ledger_records SET seq = 10 WHERE seq = -1")
    assert _problem(ledger) == ("reordered", 9)


def test_truncation_is_detected(ledger: Ledger) -> None:
    ledger.backend.execute("DELETE FROM ledger_records WHERE seq >= 25")
    assert _problem(ledger) == ("truncated", 25)


def test_truncation_behind_the_operators_back_is_caught_by_a_witness(ledger: Ledger) -> None:
    witness = ledger.checkpoint() or ledger.latest_checkpoint()
    assert witness is not None and witness.tree_size == 30
    ledger.backend.execute("DELETE FROM ledger_records WHERE seq >= 20")
    ledger.backend.execute("DELETE FROM ledger_checkpoints WHERE tree_size > 20")
    head = ledger.backend.execute("SELECT chain FROM ledger_records WHERE seq = 19")[0][0]
    ledger.backend.execute("UPDATE ledger_head SET size = 20, chain = ?", (head,))
    exported = Checkpoint.from_export(json.loads(json.dumps(witness.export(KEY.verify_key))))
    assert ledger.verify().ok  # without a witness, a consistent truncation of everything is invisible
    report = ledger.verify(witnesses=[exported])
    assert report.problem is not None and (report.problem.kind, report.problem.seq) == ("truncated", 20)


def test_forged_checkpoint_is_detected(ledger: Ledger) -> None:
    body, sig = ledger.backend.execute("SELECT body, signature FROM ledger_checkpoints ORDER BY tree_size LIMIT 1")[0]
    cp = Checkpoint.from_body(bytes(body), bytes(sig))  # type: ignore[arg-type]
    forged = Checkpoint(cp.ledger, cp.tree_size, bytes(32), cp.chain, cp.time, cp.key_id, cp.signature)
    ledger.backend.execute("UPDATE ledger_checkpoints SET body = ? WHERE tree_size = ?", (forged.body(), cp.tree_size))
    report = ledger.verify()
    assert report.problem is not None and report.problem.kind == "bad_signature" and str(cp.tree_size) in report.problem.message


def test_checkpoint_signed_by_another_key_is_rejected(ledger: Ledger) -> None:
    other = SigningKey.generate()
    cp = Checkpoint.sign(other, ledger=ledger.id, tree_size=30, root=bytes(32), chain=bytes(32), time="2026-01-01T00:00:00.000Z")
    ledger.backend.execute("DELETE FROM ledger_checkpoints WHERE tree_size = 30")
    ledger.backend.execute("INSERT INTO ledger_checkpoints VALUES (?, ?, ?)", (30, cp.body(), cp.signature))
    report = ledger.verify()
    assert report.problem is not None and report.problem.kind == "bad_signature"


def test_cli_verify_exit_codes(tmp_path: Path) -> None:
    db = fresh_sqlite(tmp_path)
    key = tmp_path / "k.pem"
    KEY.save(key)
    with Ledger.open(db, KEY, checkpoint_every=4) as led:
        for i in range(10):
            led.append(Record("decision", {"i": i}))
        runner = CliRunner()
        ok = runner.invoke(cli, ["ledger", "verify", "--db", db, "--key", str(key)])
        assert ok.exit_code == 0, ok.output
        exported = runner.invoke(cli, ["ledger", "checkpoint", "--export", "--db", db, "--key", str(key)])
        assert json.loads(exported.output)["checkpoint"]["tree_size"] == 10
        proof = runner.invoke(cli, ["ledger", "prove", "3", "--db", db, "--key", str(key)])
        assert json.loads(proof.output)["verified"] is True
        led.backend.execute("UPDATE ledger_records SET body = ? WHERE seq = 3", (b'{"seq":3}',))
        bad = runner.invoke(cli, ["ledger", "verify", "--db", db, "--key", str(key)])
        assert bad.exit_code == 1 and "record 3: edited" in bad.output


def test_group_commit_appends_from_many_threads_form_one_chain(tmp_path: Path) -> None:

    with Ledger.open(fresh_sqlite(tmp_path), SigningKey.generate(), checkpoint_every=100) as led, LedgerWriter(led, max_batch=64) as writer:
        receipts: list[tuple[int, int, int]] = []
        lock = threading.Lock()

        def worker(t: int) -> None:
            for i in range(150):
                r = writer.append(Record("decision", {"t": t, "i": i}))
                with lock:
                    receipts.append((r.seq, t, i))

        threads = [threading.Thread(target=worker, args=(t,)) for t in range(8)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        assert sorted(seq for seq, _, _ in receipts) == list(range(1200))  # every ack, one sequence
        assert led.size() == 1200
        report = led.verify()
        assert report.ok, report.problem
        stored = {seq: orjson.loads(bytes(body))["payload"] for seq, body in led.backend.execute("SELECT seq, body FROM ledger_records")}  # type: ignore[arg-type]
        assert all(stored[seq] == {"t": t, "i": i} for seq, t, i in receipts)  # each receipt names its own record
        # per thread, records keep the order they were appended in
        for t in range(8):
            mine = sorted((seq, i) for seq, tt, i in receipts if tt == t)
            assert [i for _, i in mine] == list(range(150))


def test_group_commit_reports_failures_to_every_waiting_caller(tmp_path: Path) -> None:

    led = Ledger.open(fresh_sqlite(tmp_path), SigningKey.generate())
    writer = LedgerWriter(led)
    assert writer.append(Record("decision", {"ok": True})).seq == 0
    led.close()  # the database goes away under the writer
    future = writer.submit(Record("decision", {"ok": False}))
    with pytest.raises(Exception):  # noqa: B017 - whatever the driver raises reaches the caller
        future.result(timeout=10)
    writer.close()
    with pytest.raises(LedgerError):
        writer.submit(Record("decision", {}))


def test_lingering_writer_batches_non_urgent_records_and_commits_urgent_ones_at_once(tmp_path: Path) -> None:
    with Ledger.open(fresh_sqlite(tmp_path), SigningKey.generate()) as led:
        batches = count_batches(led)
        writer = LedgerWriter(led, linger_s=2.0)
        try:
            quiet = [writer.submit(Record("decision", {"i": i}), urgent=False) for i in range(5)]
            time.sleep(0.3)
            assert not any(f.done() for f in quiet)  # nobody waits for them: the batch stays open
            t0 = time.monotonic()
            urgent = writer.submit(Record("decision", {"i": 5})).result(timeout=10)
            assert time.monotonic() - t0 < 1.0  # an urgent record ends the wait
            assert urgent.seq == 5 and [f.result(timeout=10).seq for f in quiet] == [0, 1, 2, 3, 4]
            assert batches == [6]  # one commit for all six
        finally:
            writer.close()
        assert led.verify().ok


def test_posted_batches_commit_together_count_as_records_and_report_failures(tmp_path: Path) -> None:
    with Ledger.open(fresh_sqlite(tmp_path), SigningKey.generate()) as led:
        batches = count_batches(led)
        errors: list[int] = []
        writer = LedgerWriter(led, max_pending=10, on_error=lambda n, e: errors.append(n))
        gate = threading.Event()
        first = writer.submit(lambda: (gate.wait(10), Record("decision", {"i": -1}))[1])  # holds the writer busy
        time.sleep(0.2)
        writer.post([Record("decision", {"i": i}) for i in range(6)])
        writer.post([Record("decision", {"i": i}) for i in range(6, 11)], block=False)
        assert writer.depth() == 11  # bounded by records, not by hand-offs (a batch may overshoot once)
        with pytest.raises(queue.Full):
            writer.post([Record("decision", {"i": 99})], block=False)

        def broken() -> Record:
            raise ValueError("cannot build")

        threading.Timer(0.3, gate.set).start()
        writer.post([broken, Record("decision", {"i": 11})])  # waits for room
        assert first.result(timeout=10).seq == 0
        writer.close()
        assert errors == [1]  # the record that could not be built, alone
        assert batches[0] == 1 and sum(batches) == 13 and len(batches) <= 3  # posted records commit together
        payloads = [orjson.loads(bytes(b))["payload"]["i"] for (b,) in led.backend.execute("SELECT body FROM ledger_records ORDER BY seq")]  # type: ignore[arg-type]
        assert payloads == [-1, *range(12)]
        assert led.verify().ok
