"""The attacks the workflow runs, what each needs, and which paper table shows it.

Pure Python (no numpy): the Snakefile imports it to name the attack jobs. Each attack's
`settings()` is exactly what decides its output; the workflow passes it through `params:`, so a
changed setting reruns just the attacks that use it, and the attack records it next to its scores.
"""

from __future__ import annotations

from dataclasses import dataclass

from lira.core.queries import nested_subsets
from lira.core.splits import SHADOWS_OF_A_TARGET

FAMILIES = (
    "threshold",
    "sablayrolles",
    "watson",
    "ye",
    "song_mittal",
    "shokri",
    "lira_online",
    "lira_offline",
    "rmia_online",
    "rmia_offline",
)


@dataclass(frozen=True)
class Attack:
    family: str
    label: str  # how tables and figures name it
    statistic: str | None = None  # None: attack.statistic from the config
    queries: int | None = None  # a nested query set's size; None: every configured query
    global_variance: bool = False


def _paper_attacks() -> dict[str, Attack]:
    lsc = "logit_scaled_confidence"
    return {
        # Table I (and the global-threshold row of the first issue)
        "global_threshold": Attack("threshold", "Yeom et al. (LOSS)", "loss", 1),
        "shokri": Attack("shokri", "Shokri et al.", queries=1),
        "song_mittal": Attack("song_mittal", "Song & Mittal", "modified_entropy", 1),
        "sablayrolles": Attack("sablayrolles", "Sablayrolles et al.", "loss", 1),
        "watson": Attack("watson", "Watson et al.", "loss", 1),
        "ye": Attack("ye", "Ye et al. (attack R)", "loss", 1),
        "lira_offline": Attack("lira_offline", "LiRA offline"),
        "lira_offline_global_variance": Attack("lira_offline", "LiRA offline, global variance", global_variance=True),
        "lira_online": Attack("lira_online", "LiRA online"),
        "lira_online_global_variance": Attack("lira_online", "LiRA online, global variance", global_variance=True),
        "rmia_offline": Attack("rmia_offline", "RMIA offline", "probability"),
        "rmia_online": Attack("rmia_online", "RMIA online", "probability"),
        # Table II: the ablation paths
        "loss_logit": Attack("threshold", "+ logit scaling", lsc, 1),
        "loss_logit_queries": Attack("threshold", "+ queries", lsc),
        "watson_logit": Attack("watson", "+ logit scaling", lsc, 1),
        "watson_logit_gaussian": Attack("lira_offline", "+ Gaussian", lsc, 1),
        "watson_logit_gaussian_queries": Attack("lira_offline", "+ queries (offline LiRA)", lsc),
        "sablayrolles_logit": Attack("sablayrolles", "+ logit scaling", lsc, 1),
        "sablayrolles_logit_gaussian": Attack("lira_online", "+ Gaussian", lsc, 1),
        "sablayrolles_logit_gaussian_queries": Attack("lira_online", "+ queries (online LiRA)", lsc),
    }


TABLE_1 = [
    "global_threshold",
    "shokri",
    "song_mittal",
    "sablayrolles",
    "watson",
    "ye",
    "rmia_offline",
    "rmia_online",
    "lira_offline",
    "lira_offline_global_variance",
    "lira_online",
    "lira_online_global_variance",
]
TABLE_2 = {
    "LOSS": ["global_threshold", "loss_logit", "loss_logit_queries"],
    "Watson": ["watson", "watson_logit", "watson_logit_gaussian", "watson_logit_gaussian_queries"],
    "Sablayrolles": [
        "sablayrolles",
        "sablayrolles_logit",
        "sablayrolles_logit_gaussian",
        "sablayrolles_logit_gaussian_queries",
    ],
}
# Figure 1 draws these; the bootstrap bands go to the LiRA curves.
FIGURE_1 = ["global_threshold", "shokri", "song_mittal", "sablayrolles", "watson", "ye", "rmia_online", "lira_offline", "lira_online"]


# The attacks of an audit (a target that is not among the shadow models, docs/audit.md): those
# that score a model against every shadow model. Ye's, Song & Mittal's and Shokri's attacks learn
# thresholds per target from the target's shadow models among a population, so they stay with the
# leave-pair-out evaluation.
AUDIT = [
    "lira_online",
    "lira_offline",
    "lira_online_global_variance",
    "lira_offline_global_variance",
    "rmia_online",
    "rmia_offline",
    "global_threshold",
]
# The attack families defined for an example no shadow trains on (they use OUT shadows only, or
# none): the audit's attacks when the shadows train on another part of the pool than the target.
OFFLINE_FAMILIES = ("threshold", "lira_offline", "rmia_offline")


def audit_attacks(online_defined: bool = True) -> list[str]:
    """The audit's attacks: every one of AUDIT, or, where the online attacks are undefined (config
    split.part other than the target's part), the offline ones only."""
    paper = _paper_attacks()
    return [name for name in AUDIT if online_defined or paper[name].family in OFFLINE_FAMILIES]


# What an audited target's shadows are: every shadow model (none of them is the target).
SHADOWS_OF_AN_AUDITED_TARGET = "every shadow model"


def table_3(config: dict) -> dict[int, str]:
    """Query count -> attack name of online LiRA on each nested query set the config has."""
    q = config["queries"]
    return {count: f"lira_online_queries_{count}" for count in nested_subsets(q["mirror"], q["shift"], q["stride"])}


def attacks(config: dict) -> dict[str, Attack]:
    """Every attack the workflow runs for `config`, by name."""
    catalog = _paper_attacks()
    for count, name in table_3(config).items():
        catalog[name] = Attack("lira_online", f"{count} {'query' if count == 1 else 'queries'}", queries=count)
    return catalog


def settings(name: str, config: dict) -> dict:
    """Every setting that decides attack `name`'s output (recorded with it, and its rerun key)."""
    attack = attacks(config)[name]
    options = config["attack"]
    used = {
        "family": attack.family,
        "statistic": attack.statistic or options["statistic"],
        "queries": attack.queries or "all",
        "targets": options["targets"],
    }
    if attack.family != "threshold":  # the only attack without shadow models
        used["shadows"] = SHADOWS_OF_A_TARGET
    if attack.family.startswith("lira"):
        used.update(centre=options["centre"], variance="global" if attack.global_variance else "per-example")
    if attack.family == "lira_offline":
        used["offline_test"] = options["offline_test"]
    if attack.family.startswith("rmia"):
        rmia = options["rmia"]
        used.update(population_size=rmia["population_size"], gamma=rmia["gamma"], seed=config["seed"])
        if attack.family == "rmia_offline":
            used["offline_a"] = rmia["offline_a"]
    if attack.family == "shokri":
        used.update(statistic="features", seed=config["seed"])
    return used


def audit_settings(name: str, config: dict) -> dict:
    """Every setting that decides audit attack `name`'s output: those of `settings` but the
    number of targets (the target's own files decide it), with every shadow model as shadows."""
    used = {key: value for key, value in settings(name, config).items() if key != "targets"}
    if "shadows" in used:
        used["shadows"] = SHADOWS_OF_AN_AUDITED_TARGET
    return used


def attack_label(name: str) -> str:
    """How tables and reports name one of the paper's attacks (not the query-count ones)."""
    return _paper_attacks()[name].label
