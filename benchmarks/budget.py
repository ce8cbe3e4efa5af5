"""Time budgets, so that the suite ends on any machine: the whole suite has one (`--budget-minutes`),
each section a share of what is left when it starts, each case a share of its section's, and a
measurement repeats only as often as its first run says fits. What does not fit is reported as
skipped, with the reason, never as a number.

Deadlines are wall times (time.time()): they travel to worker processes as plain numbers.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable

MIN_SECTION_SECONDS = 10.0  # a section that cannot have this much is not started


class DoesNotFit(Exception):
    """A measurement that would overrun its time; the message says why (it becomes the reason)."""


@dataclass(frozen=True)
class Deadline:
    at: float
    clock: Callable[[], float] = field(default=time.time, compare=False)

    @classmethod
    def after(cls, seconds: float, clock: Callable[[], float] = time.time) -> Deadline:
        return cls(clock() + seconds, clock)

    def left(self) -> float:
        return max(0.0, self.at - self.clock())

    def share(self, fraction: float) -> Deadline:
        """A deadline `fraction` of the way from now to this one."""
        now = self.clock()
        return Deadline(now + fraction * max(0.0, self.at - now), self.clock)


NO_DEADLINE = Deadline(math.inf)


def repetitions(first_seconds: float, most: int, seconds: float) -> int:
    """How many timed runs follow a warm-up run that took first_seconds: as many of `most` as fit
    in what the warm-up left of `seconds`, and always one, so that every figure is a warm run."""
    if first_seconds <= 0:
        return most
    return max(1, min(most, int((seconds - first_seconds) / first_seconds)))


def best_time(run: Callable[[], object], most: int, seconds: float) -> float:
    """Best wall time of run() over repetitions(...) timed calls after a timed warm-up call."""
    start = time.perf_counter()
    run()
    first = time.perf_counter() - start
    best = math.inf
    for _ in range(repetitions(first, most, seconds)):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best


def fit_steps(epochs: int, steps: int, step_seconds: float, seconds: float) -> tuple[int, int]:
    """The largest schedule of at most `epochs` epochs of `steps` steps that fits in `seconds` at
    step_seconds a step: fewer epochs first, down to two (the first is a warm-up, so two is the
    least that times anything), then fewer steps per epoch, down to one."""
    if epochs * steps * step_seconds <= seconds:
        return epochs, steps
    if 2 * step_seconds > seconds:
        raise DoesNotFit(f"a step takes about {step_seconds:.1f} s, and two (warm-up and timed) exceed its {seconds:.0f} s")
    fitting_epochs = int(seconds / (steps * step_seconds))
    if fitting_epochs >= 2:
        return fitting_epochs, steps
    return 2, max(1, int(seconds / (2 * step_seconds)))


@dataclass
class Section:
    name: str  # its name in the CSV and in --skip
    title: str  # its heading, printed when it starts
    weight: float  # its share of the time left, against the sections after it
    run: Callable[[Deadline], list]  # prints as it goes; returns its records (section, case, metric, value)
    skip: str | None = None  # a reason not to run it at all (e.g. --skip)


def budget_spent(deadline: Deadline, minimum: float = MIN_SECTION_SECONDS) -> str | None:
    if deadline.left() < minimum:
        return f"the suite's time budget is spent ({deadline.left():.0f} s left, a section needs {minimum:.0f} s)"
    return None


def run_sections(sections: list[Section], deadline: Deadline, write: Callable[[str], None] = print) -> list[tuple]:
    """Run the sections in turn, each until its share of the time left: its weight over the
    weights of the sections still to run (what one leaves unused goes to the next). Once the
    suite's deadline is near, the rest are skipped; a skipped section is a record with its reason."""
    records = []
    for index, section in enumerate(sections):
        write(f"\n## {section.title}")
        reason = section.skip or budget_spent(deadline)
        if reason:
            write(f"skipped: {reason}")
            records.append((section.name, "section", "skipped", reason))
            continue
        weights = sum(later.weight for later in sections[index:] if not later.skip)
        start = deadline.clock()
        records += section.run(deadline.share(section.weight / weights))
        records.append((section.name, "section", "seconds", deadline.clock() - start))
    return records
