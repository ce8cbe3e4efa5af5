"""Hostile cases on the numpy artifacts: every file a job consumes is checked against the content
hash its producing job recorded (lira.workflow.artifacts), and a changed, truncated or old file is
refused with one line naming it and what to do, by the real step functions
(lira.workflow.steps, lira.reports.tables) on a small real run of them. A refusing job writes
nothing and deletes nothing. The weights and checkpoints: tests/models/test_integrity_models.py;
a full disk: tests/workflow/test_integrity_disk.py; through Snakemake:
tests/end_to_end/test_integrity_workflow.py."""

from __future__ import annotations

import json
import logging
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import tiny_config
from formats import snapshot

from lira.core import splits
from lira.core.logit_statistics import STACKED_STATISTICS
from lira.core.queries import query_set
from lira.reports.tables import write_tables
from lira.workflow import artifacts, files, steps
from lira.workflow.artifacts import ArtifactError

SEED = 0
BLOCKS = ["0-3", "4-5"]
N_MODELS, POOL, CLASSES = 6, 40, 4
QUERIES = {"mirror": True, "shift": 1, "stride": 1, "padding": "reflect"}
LIRA = {"family": "lira_online", "statistic": "logit_scaled_confidence", "queries": "all", "targets": 4,
        "centre": "mean", "variance": "per-example"}  # fmt: skip
RMIA = {"family": "rmia_online", "statistic": "probability", "queries": "all", "targets": 4,
        "population_size": 100, "gamma": 1.0, "seed": SEED}  # fmt: skip
FPRS = [0.00001, 0.001, 0.01, 0.1]  # the tables show 0.001 % and 0.1 %
LOG = logging.getLogger("test_integrity")


class Named(dict):
    """Snakemake's named file lists: entries by key and by attribute."""

    __getattr__ = dict.__getitem__


def paths(root: Path) -> dict:
    results = root / "results" / "x"
    shadows = {name: results / "shadows" / f"{name}.npy" for name in [*STACKED_STATISTICS, "keep"]}
    return {
        "results": results,
        "pool": results / "pool.npz",
        "logits": [results / "logits" / f"{block}.npy" for block in BLOCKS],
        "logits_info": [results / "logits" / f"{block}.json" for block in BLOCKS],
        "shadows": Named(shadows, info=results / "shadows" / "info.json"),
        "fit": results / "fit.npz",
        "attack": results / "attacks" / "lira_online.npz",
        "rmia": results / "attacks" / "rmia_online.npz",
        "metrics": results / "metrics" / "lira_online.json",
        "tables": results / "tables",
    }


def shadows_inputs(p):
    return Named(logits=p["logits"], logits_info=p["logits_info"], pool=p["pool"])


def stack(p):
    steps.stack_shadows(shadows_inputs(p), p["shadows"], BLOCKS, SEED, QUERIES, STACKED_STATISTICS, LOG)


def fit(p):
    steps.fit_shadows(Named(p["shadows"], pool=p["pool"]), p["fit"], SEED, LOG)


def attack(p, settings=LIRA, output="attack"):
    inputs = Named(p["shadows"], fit=p["fit"], pool=p["pool"])
    steps.score_attack(inputs, p[output], settings["family"], settings, SEED, QUERIES, LOG)


def evaluate(p):
    steps.evaluate_attack(p["attack"], p["pool"], p["metrics"], "lira_online", FPRS, 20, SEED, 1e-5, LOG)


def tables(p):
    outputs = {"csv": p["results"] / "metrics.csv", "markdown": p["results"] / "metrics.md",
               "settings": p["tables"] / "settings.json"}  # fmt: skip
    for key in ("table1", "table2", "table3"):
        outputs.update({f"{key}_{kind}": p["tables"] / f"{key}.{kind}" for kind in ("csv", "md", "tex")})
    config = tiny_config(Path("unused"))
    write_tables(
        Named(metrics=[p["metrics"]], pool=p["pool"], models=[]), Named(outputs), config, "fashion_mnist", "x", FPRS, SEED, LOG
    )


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> Path:
    """A pool, two blocks' logits (members' true class raised: something to find) and every step
    after them, each through its real function."""
    root = tmp_path_factory.mktemp("made")
    p = paths(root)
    rng = np.random.default_rng(0)
    pool = {"x": rng.integers(0, 256, (POOL, 1, 4, 4), dtype=np.uint8), "y": rng.integers(0, CLASSES, POOL),
            "num_classes": np.int64(CLASSES)}  # fmt: skip
    pool["content_hash"] = artifacts.content_hash(pool)
    files.save_arrays(p["pool"], **pool)
    fingerprint = artifacts.fingerprint(str(pool["content_hash"]), SEED)
    keep = splits.keep_matrix(SEED, N_MODELS, POOL)
    n_queries = len(query_set(QUERIES["mirror"], QUERIES["shift"], QUERIES["stride"]))
    for block, path, info in zip(BLOCKS, p["logits"], p["logits_info"]):
        models = splits.block_models(block)
        logits = rng.normal(size=(len(models), POOL, n_queries, CLASSES)).astype(np.float32)
        logits[..., pool["y"]] += 0.5
        for row, model in enumerate(models):
            logits[row, keep[model], :, pool["y"][keep[model]]] += 2.0
        artifacts.write_array_with_info(
            path, info, logits, fingerprint=fingerprint, models=list(models), queries=n_queries
        )
    stack(p)
    fit(p)
    attack(p)
    attack(p, RMIA, "rmia")
    evaluate(p)
    tables(p)
    return root


@pytest.fixture
def run(made, tmp_path):
    """A copy of the made run to tamper with: its paths."""
    shutil.copytree(made, tmp_path / "run")
    return paths(tmp_path / "run")



def refused(step, p, message: str):
    """`step(p)` raises ArtifactError with exactly `message` (one line; `...` stands for any
    text), writes nothing, deletes nothing, and leaves no temporary file."""
    before = snapshot(p["results"])
    with pytest.raises(ArtifactError) as caught:
        step(p)
    text = str(caught.value)
    assert "\n" not in text
    pattern = ".*".join(re.escape(part) for part in message.format(r=p["results"]).split("..."))
    assert re.fullmatch(pattern, text), text
    assert snapshot(p["results"]) == before
    return text


def flip(path: Path, offset_from_end: int = 200, count: int = 64) -> None:
    """Invert `count` bytes of the file, `offset_from_end` bytes before its end (inside the data)."""
    data = bytearray(path.read_bytes())
    start = len(data) - offset_from_end
    data[start : start + count] = bytes(b ^ 0xFF for b in data[start : start + count])
    path.write_bytes(bytes(data))


def edit_npz(path: Path, **changes) -> None:
    """Rewrite an .npz with some arrays changed, its stored content_hash kept as it was."""
    arrays = files.load_arrays(path)
    arrays.update(changes)
    np.savez(path, **arrays)


def edit_json(path: Path, change) -> None:
    value = json.loads(path.read_text())
    change(value)
    path.write_text(json.dumps(value))


def resign_stack(p, name: str) -> None:
    """Record a stack's new sha256 in shadows/info.json, as a forger (or a bug) would."""
    edit_json(
        p["shadows"].info, lambda info: info["sha256"].__setitem__(name, artifacts.file_sha256(p["shadows"][name]))
    )


# --- the pool -------------------------------------------------------------------------------------


POOL_CHANGED = ("{r}/pool.npz: content does not match the content_hash recorded in it by the job that wrote it "
                "(changed since?); delete it to remake the pool (every model made from it then retrains)")  # fmt: skip


def test_a_relabelled_pool_that_keeps_its_stored_hash_is_refused(run):
    labels = files.load_arrays(run["pool"])["y"]
    edit_npz(run["pool"], y=(labels + 1) % CLASSES)  # content_hash kept: the old fingerprint
    refused(stack, run, POOL_CHANGED)
    refused(attack, run, POOL_CHANGED)
    refused(evaluate, run, POOL_CHANGED)
    refused(tables, run, POOL_CHANGED)


def test_a_truncated_pool_is_refused_with_its_name(run):
    data = run["pool"].read_bytes()
    run["pool"].write_bytes(data[: len(data) // 2])
    refused(
        stack,
        run,
        "{r}/pool.npz: unreadable (...); delete it to remake the pool (every model made from it then retrains)",
    )
    refused(fit, run, "{r}/pool.npz: unreadable (...)...")


# --- logits ---------------------------------------------------------------------------------------


def test_flipped_bytes_in_a_blocks_logits_are_refused(run):
    flip(run["logits"][1])
    refused(
        stack,
        run,
        "{r}/logits/4-5.npy: content does not match the sha256 recorded in {r}/logits/4-5.json by the job "
        "that wrote it (changed since?); delete both files to rerun rule logits for block 4-5",
    )
    assert not list(run["results"].rglob("*.part*"))


# --- the shadows' stacks ---------------------------------------------------------------------------


def test_flipped_bytes_in_a_stack_are_refused_by_the_fit_and_by_an_attack(run):
    flip(run["shadows"]["logit_scaled_confidence"])
    message = (
        "{r}/shadows/logit_scaled_confidence.npy: content does not match the sha256 recorded in "
        "{r}/shadows/info.json by the job that wrote it (changed since?); delete it so that rule shadows remakes it"
    )
    refused(fit, run, message)
    refused(attack, run, message)  # LiRA reads this statistic
    attack(run, RMIA, "rmia")  # RMIA reads another one: unharmed


@pytest.mark.parametrize("value, counts", [(np.nan, "1 NaN and 0 infinite"), (np.inf, "0 NaN and 1 infinite")])
def test_a_non_finite_value_in_a_stack_is_refused_naming_the_file_even_with_its_hash_recorded(run, value, counts):
    path = run["shadows"]["hinge"]
    values = np.load(path)
    values[3, 17, 5] = value
    np.save(path, values)
    resign_stack(run, "hinge")
    refused(fit, run, f"{{r}}/shadows/hinge.npy: hinge holds {counts} values (the first at index [3, 17, 5]); "
                      "delete it so that rule shadows remakes it")  # fmt: skip


def test_other_keep_masks_are_refused(run):
    np.save(run["shadows"]["keep"], splits.keep_matrix(SEED + 1, N_MODELS, POOL))
    refused(fit, run, "{r}/shadows/keep.npy: content does not match the sha256 recorded in {r}/shadows/info.json...")
    resign_stack(run, "keep")
    refused(fit, run, "{r}/shadows/keep.npy: keep masks differ from the split design ... for seed 0; "
                      "delete it so that rule shadows remakes it")  # fmt: skip


def test_a_truncated_stack_is_refused_with_its_name(run):
    path = run["shadows"]["loss"]
    path.write_bytes(path.read_bytes()[:1000])
    refused(fit, run, "{r}/shadows/loss.npy: unreadable (...); delete it so that rule shadows remakes it")


def test_stacks_of_an_older_version_without_hashes_are_refused_with_the_rule_to_rerun(run):
    edit_json(run["shadows"].info, lambda info: info.pop("sha256"))
    message = ("{r}/shadows/info.json: records no sha256 of the stacks (written by an older version of the "
               "workflow); rerun its rule: snakemake --forcerun shadows")  # fmt: skip
    refused(fit, run, message)
    refused(attack, run, message)


# --- the fit --------------------------------------------------------------------------------------


def test_an_edited_fit_that_keeps_its_hash_is_refused(run):
    arrays = files.load_arrays(run["fit"])
    name = "logit_scaled_confidence.sum_in"
    edit_npz(run["fit"], **{name: arrays[name] * 1.01})  # finite, plausible, wrong
    refused(
        attack,
        run,
        "{r}/fit.npz: content does not match the content_hash recorded in it by the job that wrote it "
        "(changed since?); delete it so that rule fit remakes it",
    )


def test_a_truncated_fit_is_refused_with_its_name(run):
    data = run["fit"].read_bytes()
    run["fit"].write_bytes(data[: len(data) - 100])
    refused(attack, run, "{r}/fit.npz: unreadable (...); delete it so that rule fit remakes it")


# --- attacks --------------------------------------------------------------------------------------


ATTACK_CHANGED = ("{r}/attacks/lira_online.npz: content does not match the content_hash recorded in it by the "
                  "job that wrote it (changed since?); delete it so that rule attack remakes it")  # fmt: skip


def test_negated_attack_scores_that_keep_their_hash_are_refused(run):
    edit_npz(run["attack"], scores=-files.load_arrays(run["attack"])["scores"])
    refused(evaluate, run, ATTACK_CHANGED)


def test_flipped_membership_that_keeps_its_hash_is_refused(run):
    edit_npz(run["attack"], is_member=~files.load_arrays(run["attack"])["is_member"])
    refused(evaluate, run, ATTACK_CHANGED)


def test_flipped_bytes_in_an_attack_file_are_refused(run):
    flip(run["attack"], offset_from_end=1200, count=8)
    refused(evaluate, run, "{r}/attacks/lira_online.npz: ...; delete it so that rule attack remakes it")


def test_an_attack_of_an_older_version_without_hash_is_refused_with_the_rule_to_rerun(run):
    arrays = files.load_arrays(run["attack"])
    del arrays["content_hash"]
    np.savez(run["attack"], **arrays)
    refused(evaluate, run, "{r}/attacks/lira_online.npz: carries no content hash (written by an older version of the "
                           "workflow); rerun its rule: snakemake --forcerun attack")  # fmt: skip


# --- metrics --------------------------------------------------------------------------------------


def test_an_edited_auc_that_keeps_its_hash_is_refused_by_the_tables(run):
    edit_json(run["metrics"], lambda value: value["pooled"].__setitem__("auc", 0.99))  # beside its old interval
    refused(
        tables,
        run,
        "{r}/metrics/lira_online.json: content does not match the content_hash recorded in it by the job "
        "that wrote it (changed since?); delete it so that rule evaluate remakes it",
    )


def test_metrics_of_an_older_version_without_hash_are_refused_with_the_rule_to_rerun(run):
    edit_json(run["metrics"], lambda value: value.pop("content_hash"))
    refused(tables, run, "{r}/metrics/lira_online.json: carries no content hash (written by an older version of the "
                         "workflow); rerun its rule: snakemake --forcerun evaluate")  # fmt: skip


# --- what the checks leave alone ------------------------------------------------------------------


def test_every_step_rerun_on_good_inputs_writes_the_same_bytes(made, run):
    """The hashes are recorded so that a legitimate rerun passes them, and the results do not
    depend on them: each step rerun on the made run gives identical files."""
    for step in (stack, fit, attack, evaluate, tables):
        step(run)
    assert snapshot(run["results"]) == snapshot(paths(made)["results"])


def test_the_recorded_hashes_are_where_the_docs_say(made):
    p = paths(made)
    info = json.loads(p["shadows"].info.read_text())
    assert set(info["sha256"]) == {*STACKED_STATISTICS, "keep"}
    assert all(info["sha256"][name] == artifacts.file_sha256(p["shadows"][name]) for name in info["sha256"])
    sidecar = json.loads(p["logits_info"][0].read_text())
    assert sidecar["sha256"] == artifacts.file_sha256(p["logits"][0])
    for path in (p["fit"], p["attack"]):
        arrays = files.load_arrays(path)
        assert str(arrays.pop("content_hash")) == artifacts.content_hash(arrays)
    metrics = json.loads(p["metrics"].read_text())
    assert metrics["content_hash"] == artifacts.json_hash(metrics)


def test_rmia_records_the_population_it_used(made):
    """RMIA draws min(population_size, pool) points: a pool of 40 records 40, and the configured 100 beside it."""
    settings = json.loads(str(files.load_arrays(paths(made)["rmia"])["settings"]))
    assert settings["population_size"] == POOL and settings["population_size_configured"] == 100
    assert json.loads(str(files.load_arrays(paths(made)["attack"])["settings"])) == LIRA  # others as given


def test_a_stack_is_checked_once_and_only_when_read(run):
    """An attack pays for the stacks it reads: a damaged stack it does not read is not its concern,
    and a stack read twice is checked once."""
    fingerprint = artifacts.expected_fingerprint(run["pool"], SEED)
    flip(run["shadows"]["loss"])
    stacks, _, info = artifacts.load_shadows(run["shadows"], fingerprint, SEED)
    assert list(stacks) == list(STACKED_STATISTICS) and len(stacks) == len(STACKED_STATISTICS)
    first = stacks["hinge"]
    assert stacks["hinge"] is first and first.shape == (N_MODELS, POOL, info["queries"])
    with pytest.raises(ArtifactError, match=r"loss\.npy: content does not match"):
        stacks["loss"]
